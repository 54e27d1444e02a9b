"""What Django and Django REST Framework do around a DRF view, on the paths of an API that runs on them
(Mifumo), as the spec states it:

* `APPEND_SLASH`: a path marked `x-append-slash` asked for without its trailing slash answers `301` to it
  (Django's `CommonMiddleware`, before the view: no credentials needed, the query kept);
* every answer of the view carries `Allow` (the methods it serves: `GET, HEAD, OPTIONS`) and `Vary: Accept`
  (`APIView.default_response_headers`), errors included;
* content is negotiated before anything else of the view (`APIView.initial`): `?format=` naming a format no
  renderer has is `404 Not found.`, an `Accept` no renderer satisfies is `406` (DRF's default renderers:
  JSON, and the browsable API's HTML, which the mock does not draw: it answers JSON, the contract's type);
* a method the view does not serve is refused only after authentication (`APIView.initial` runs first),
  so with missing or refused credentials it is the credentials check's `401`, not the `405`.

The view's own answers (pages, metadata, errors) come from the contract behind this stage.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl

import orjson
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billing_contract.profiles import of_tag
from billing_contract.spec import Spec

APPEND_SLASH = "x-append-slash"
# DRF's APIView.http_method_names order, in which `Allow` lists a view's methods.
METHOD_ORDER = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE")
VARY = b"Accept"
# DRF's default renderers (JSONRenderer, BrowsableAPIRenderer): the `?format=` each answers to, its media type.
RENDERERS = {"json": ("application", "json"), "api": ("text", "html")}
FORMAT_PARAM = "format"  # DRF's URL_FORMAT_OVERRIDE


def _accepts(accept: str) -> bool:
    """Whether any media range of `Accept` matches a renderer (DRF's `media_type_matches`: `*` matches any
    type or subtype; parameters and q-values do not rule a renderer out)."""
    for media_range in accept.split(","):
        kind, _, subtype = media_range.split(";", 1)[0].strip().lower().partition("/")
        for main, sub in RENDERERS.values():
            if kind in ("*", main) and subtype.strip() in ("*", sub):
                return True
    return False


def _format(query_string: bytes) -> str:
    """The `format` DRF reads (QueryDict.get: the last of repeated values; empty is no format)."""
    values = [v for k, v in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True) if k == FORMAT_PARAM]
    return values[-1] if values else ""


def view_methods(spec: Spec, path: str) -> tuple[str, ...]:
    """The methods a DRF view on `path` serves: its documented operations, and HEAD wherever GET is."""
    methods = {op.method.upper() for op in spec.operations.values() if op.path == path}
    if "GET" in methods:
        methods.add("HEAD")
    return tuple(m for m in METHOD_ORDER if m in methods)


class DrfViews:
    def __init__(
        self,
        app: ASGIApp,
        spec: Spec,
        tag: str,
        authenticated: Callable[[Mapping[str, str]], bool],
        refusal: Callable[[Scope], Response],
    ) -> None:
        self.app = app
        paths = {op.path for op in spec.operations.values() if op.tag == tag}
        self.allow = {path: view_methods(spec, path) for path in paths}
        self.slashless = {
            path.rstrip("/"): path
            for path in paths
            if path.endswith("/") and spec.document["paths"][path].get(APPEND_SLASH)
        }
        self.authenticated = authenticated
        self.refusal = refusal  # the credentials check's answer to this request (a 401 in the API's body)
        # The negotiation's refusals, as the contract shows them.
        view = of_tag(tag).collection  # type: ignore[union-attr]  # (the profile of a tag the app passes)
        self.unknown_format = spec.example(view, 404, "formatNotFound")
        self.not_acceptable = spec.example(view, 406)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path in self.slashless:
            await self._redirect(scope, self.slashless[path])(scope, receive, send)
            return
        allow = self.allow.get(path)
        if allow is None:
            await self.app(scope, receive, send)
            return
        allow_value = ", ".join(allow).encode()
        answer = self._answer(scope, allow)

        async def with_view_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": _view_headers(message.get("headers", []), allow_value)}
            await send(message)

        await answer(scope, receive, with_view_headers)

    def _answer(self, scope: Scope, allow: tuple[str, ...]) -> ASGIApp:
        """Who answers, in `APIView.initial`'s order: negotiation, authentication, then the view (the method)."""
        headers = _headers(scope)
        if _format(scope.get("query_string", b"")) not in ("", *RENDERERS):
            return _json(404, self.unknown_format)
        if not _accepts(headers.get("accept", "*/*")):
            return _json(406, self.not_acceptable)
        if scope["method"] not in allow and not self.authenticated(headers):
            return self.refusal(scope)
        return self.app

    @staticmethod
    def _redirect(scope: Scope, target: str) -> Response:
        """Django's `HttpResponsePermanentRedirect` to the path with its slash (`get_full_path_with_slash`)."""
        query = scope.get("query_string", b"").decode("latin-1")
        location = f"{target}?{query}" if query else target
        return Response(b"", 301, {"Location": location}, media_type="text/html; charset=utf-8")


def _json(status: int, body: object) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/json")


def _headers(scope: Scope) -> dict[str, str]:
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}


def _view_headers(headers: list[tuple[bytes, bytes]], allow: bytes) -> list[tuple[bytes, bytes]]:
    """`Allow` set to the view's methods; `Accept` added to `Vary` (kept with whatever else varies it)."""
    kept = [(name, value) for name, value in headers if name.lower() not in (b"allow", b"vary")]
    varies = [value for name, value in headers if name.lower() == b"vary"]
    vary = b", ".join([VARY, *varies]) if not any(VARY.lower() in v.lower() for v in varies) else b", ".join(varies)
    return [*kept, (b"allow", allow), (b"vary", vary)]
