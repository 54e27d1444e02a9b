"""The proxy as an ASGI app: each request goes to its API's upstream, or to the mock when the API has
none; every relayed exchange is checked against the contract, counted and optionally recorded.

Mifumo's `next`/`previous` are absolute URLs the upstream builds. The proxy sends the client's host and
scheme as `X-Forwarded-Host`/`-Proto` (DRF builds links from them with `USE_X_FORWARDED_HOST`); links
that still name the upstream are rewritten to the proxy's own base, so a client following them stays
behind the proxy and keeps being checked. That rewrite is the one change the proxy makes to a body.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import orjson
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send

from billing_contract import profiles, rules
from billing_contract.facts import API_OF_TAG
from billing_contract.spec import Spec
from mock_server.admin import AdminError
from mock_server.app import MockApp, create_app
from mock_server.errors import ApiProblem, Kind
from mock_server.proxy.checks import REQUEST_RULES, Finding, OperationChecks
from mock_server.proxy.config import ProxyConfig
from mock_server.proxy.exchange import RelayedExchange
from mock_server.proxy.forward import ForwardedRequest, Upstream, UpstreamAnswer, UpstreamError
from mock_server.proxy.recorder import Recorder
from mock_server.proxy.report_page import write_page
from mock_server.proxy.violations import Violation, ViolationLog, now

VIOLATIONS_PATH = "/__mock/violations"
FLUSH_PATH = "/__mock/record/flush"
VIOLATIONS_HEADER = b"x-contract-violations"
MAX_REQUEST_BODY = 1024 * 1024  # the contract's operations take no body; a client's stray one is capped
SECRET_HEADERS = (b"authorization", b"app-token")
# How uvicorn serves the proxy: the upstream's Date and Server headers pass through, none added.
UVICORN_OPTIONS = {"server_header": False, "date_header": False}


class ProxyApp:
    def __init__(self, config: ProxyConfig, mock: MockApp) -> None:
        self.config = config
        self.mock = mock
        self.spec: Spec = mock.state.spec
        self.violations = ViolationLog()
        self.recorder = Recorder(config.record_path, self.spec) if config.record_path else None
        self.checks = {op_id: OperationChecks(self.spec, op) for op_id, op in self.spec.operations.items()}
        self.upstreams = {
            api: Upstream(url, config.upstream_timeout, config.max_body) for api, url in config.upstreams.items()
        }
        self.tooling: dict[tuple[str, str], Callable[[], Response]] = {
            (VIOLATIONS_PATH, "GET"): self._violations_response,
            (FLUSH_PATH, "POST"): self._flush_response,
        }

    # -- ASGI ---------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            await self.mock(scope, receive, send)
            return
        path = scope["path"]
        route = self.tooling.get((path, scope["method"]))
        if route is not None:
            await self._guarded(scope, route)(scope, receive, send)
            return
        api = None if path.startswith("/__mock/") else API_OF_TAG.get(self.spec.tag_of_path(path) or "")
        if api is None or api not in self.config.upstreams:
            await self.mock(scope, receive, send)
            return
        await self._relay(api, scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def close(self) -> None:
        """At shutdown: the recording and the reports (JSON, JUnit, HTML) are written, the connections closed."""
        self.write_outputs()
        for upstream in self.upstreams.values():
            upstream.close()

    def write_outputs(self) -> None:
        if self.recorder is not None:
            self.recorder.flush()
        if self.config.report_path is not None:
            self.violations.write_report(self.config.report_path)
        if self.config.junit_path is not None:
            self.violations.write_junit(self.config.junit_path)
        if self.config.html_path is not None:
            write_page(self.violations, self.config, self.config.html_path)

    def _guarded(self, scope: Scope, route: Callable[[], Response]) -> Response:
        """The proxy's tooling routes are guarded as the mock's log and write routes are (--admin-token)."""
        try:
            guard = self.mock.admin.guard
            guard.check(_header(scope, b"authorization"), _header(scope, b"origin"), _header(scope, b"host"))
        except AdminError as exc:
            return JSONResponse({"detail": exc.detail}, exc.status, exc.headers)
        return route()

    def _violations_response(self) -> Response:
        return JSONResponse(self.violations.as_json())

    def _flush_response(self) -> Response:
        if self.recorder is None:
            return JSONResponse({"detail": "not recording: start the proxy with --record FILE"}, status_code=409)
        return JSONResponse(self.recorder.flush().as_json())

    # -- relaying -----------------------------------------------------------------------------------

    async def _relay(self, api: str, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await _read_body(receive)
        except IncompleteBody:  # the client went away mid-body: nothing is forwarded, no one is left to answer
            return
        except BodyTooLarge:
            await _too_large()(scope, receive, send)
            return
        matched = self.spec.match(scope["method"], scope["path"])
        checks = self.checks[matched[0].operation_id] if matched else None
        findings = checks.request(scope, matched[1]) if checks and matched else []
        upstream = self.upstreams[api]
        client_base = _client_base(scope)
        try:
            answer = await upstream.send(_forwarded(scope, body, client_base))
        except UpstreamError as exc:
            kind = Kind.GATEWAY_TIMEOUT if exc.kind == "timeout" else Kind.BAD_GATEWAY
            self._report(scope, exc.status, checks, findings, [])
            await self._problem(scope, ApiProblem(kind, detail=exc.detail))(scope, receive, send)
            return
        # Absolute links (DRF's page numbers) name the upstream: rewritten to the proxy's own base.
        absolute = profiles.PROFILES[api].pagination == profiles.PAGE_NUMBER
        raw = _rewrite_links(answer, upstream.origin, client_base) if absolute else answer.body
        exchange = RelayedExchange(
            scope["method"], _client_url(scope, client_base), answer.status, scope["headers"], answer.headers, raw
        )
        if checks is not None:
            findings += checks.response(exchange)
            if self.recorder is not None:
                self.recorder.observe(checks.operation.operation_id, answer.status, exchange.body)
        self._report(scope, answer.status, checks, findings, profiles.PROFILES[api].rule_names if checks else ())
        if findings and self.config.strict:
            named = "; ".join(f"{f.rule}: {f.message}" for f in findings)
            problem = ApiProblem(Kind.BAD_GATEWAY, detail=f"the upstream's answer breaks the contract: {named}"[:2000])
            await self._problem(scope, problem, len(findings))(scope, receive, send)
            return
        await _relayed(answer, raw, len(findings))(scope, receive, send)

    def _report(
        self,
        scope: Scope,
        status: int,
        checks: OperationChecks | None,
        findings: list[Finding],
        response_rules: tuple[str, ...] | list[str],
    ) -> None:
        operation = checks.operation.operation_id if checks else None
        if operation is not None:
            self.violations.checked_rules(operation, (*REQUEST_RULES, *response_rules))
        secrets = _secrets(scope) if findings else []
        for finding in findings:
            self.violations.add(
                Violation(
                    time=now(),
                    method=scope["method"],
                    path=scope["path"],
                    query=scope.get("query_string", b"").decode("latin-1"),
                    status=status,
                    side=finding.side,  # type: ignore[arg-type]
                    operation=operation,
                    rule=finding.rule,
                    message=_scrub(finding.message, secrets),
                )
            )

    def _problem(self, scope: Scope, problem: ApiProblem, violations: int = 0) -> Response:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        rendered = self.mock.renderer.render(scope["path"], scope["method"], headers, problem)
        response = Response(orjson.dumps(rendered.body), rendered.status, rendered.headers, "application/json")
        if violations:
            response.headers["X-Contract-Violations"] = str(violations)
        return response


class IncompleteBody(Exception):
    """The client disconnected before its request's body was whole (fewer bytes than it declared)."""


class BodyTooLarge(Exception):
    """The request's body is larger than the proxy holds (`MAX_REQUEST_BODY`)."""


async def _read_body(receive: Receive) -> bytes:
    """The request's body, whole, or an exception: a body is forwarded whole or not at all. (Forwarding what
    had arrived would hand the upstream a shorter request than the client made, framed as complete.)"""
    chunks: list[bytes] = []
    size = 0
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            raise IncompleteBody
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_REQUEST_BODY:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _too_large() -> Response:
    """413 without forwarding; the connection closes, as the rest of the body is not read."""
    detail = f"the request body exceeds {MAX_REQUEST_BODY} bytes, the most the proxy forwards"
    return JSONResponse({"detail": detail}, status_code=413, headers={"Connection": "close"})


def _header(scope: Scope, name: bytes) -> str | None:
    return next((v.decode("latin-1") for k, v in scope["headers"] if k.lower() == name), None)


def _client_base(scope: Scope) -> str:
    """`scheme://host[:port]` as the client addressed the proxy (its Host header, else the socket)."""
    host = _header(scope, b"host")
    if not host:
        server = scope.get("server") or ("127.0.0.1", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}"


def _client_url(scope: Scope, base: str) -> str:
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{base}{scope['path']}" + (f"?{query}" if query else "")


def _forwarded(scope: Scope, body: bytes, client_base: str) -> ForwardedRequest:
    client = scope.get("client")
    return ForwardedRequest(
        method=scope["method"],
        raw_path=scope.get("raw_path") or scope["path"].encode(),
        query_string=scope.get("query_string", b""),
        headers=list(scope["headers"]),
        body=body,
        client_host=client_base.split("://", 1)[1],
        client_scheme=scope.get("scheme", "http"),
        client_ip=client[0] if client else None,
    )


def _rewrite_links(answer: UpstreamAnswer, upstream_origin: str, client_base: str) -> bytes:
    """Mifumo links naming the upstream, rewritten to the proxy; the rest of the body byte for byte."""
    encoded = any(k.lower() == b"content-encoding" for k, _ in answer.headers)
    if encoded or answer.status != 200 or upstream_origin.encode("latin-1") not in answer.body:
        return answer.body
    return _links_rewritten(upstream_origin, client_base, answer.body)


@rules.remembered(maxsize=64)
def _links_rewritten(upstream_origin: str, client_base: str, raw: bytes) -> bytes:
    """A pure function of its inputs, remembered: clients ask for the same page again and again."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw
    for name in ("next", "previous"):
        link = body.get(name) if isinstance(body, dict) else None
        if isinstance(link, str) and (link == upstream_origin or link.startswith(upstream_origin + "/")):
            rewritten = client_base + link[len(upstream_origin) :]
            raw = raw.replace(json.dumps(link).encode(), json.dumps(rewritten).encode(), 1)
    return raw


def _relayed(answer: UpstreamAnswer, body: bytes, violations: int) -> Response:
    response = Response(body, answer.status)
    headers = [(k, v) for k, v in answer.headers if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode()))
    if violations:
        headers.append((VIOLATIONS_HEADER, str(violations).encode()))
    response.raw_headers = headers
    return response


def _secrets(scope: Scope) -> list[str]:
    values = []
    for key, value in scope["headers"]:
        if key.lower() in SECRET_HEADERS:
            text = value.decode("latin-1")
            values += [text, text.partition(" ")[2]]
    return [v for v in values if len(v) >= 4]


def _scrub(message: str, secrets: list[str]) -> str:
    for secret in secrets:
        message = message.replace(secret, "[secret]")
    return message


def create_proxy_app(config: ProxyConfig) -> ProxyApp:
    return ProxyApp(config, create_app(config.mock))


__all__ = ["UVICORN_OPTIONS", "ProxyApp", "create_proxy_app"]
