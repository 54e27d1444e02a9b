"""The contract as the mock serves it: `/openapi.json` and `/openapi.yaml`, the document as written.

Connexion's own spec route serves its parsed copy, every `$ref` inlined: generators then see each inline
schema as a new model (dozens of `..._response_200_results_type_0_item_...` classes, clashing enum names)
and drop responses. This serves the file's document itself, `$ref`s kept, so a client generated from the
URL is the one generated from the file.

One change is made, for the tools that send requests: the mock's own base URL, read from the request
(scheme, `Host`, root path), is named first in the top-level `servers` and in every path's and
operation's `servers`. Every path of the file names its production host, and a path-level list overrides
the top-level one, so without it Swagger UI's "Try it out" on the mock's docs page would send the
user's credentials to production. The served lists keep the file's real hosts after the mock's entry,
and `specs/openapi.yaml` itself is unchanged.
"""

from __future__ import annotations

import copy
import functools
import re
from typing import Any

import orjson
import yaml
from starlette.types import Receive, Scope, Send

MOCK_SERVER_DESCRIPTION = "This mock, which served this document: Try it out and generated clients reach it here."
JSON_MEDIA_TYPE = b"application/json"
YAML_MEDIA_TYPE = b"application/yaml"
_ALLOWED_METHODS = ("GET", "HEAD")
# A Host header that is a plain host[:port] (names, IPv4, bracketed IPv6); anything else is not echoed
# into the document, the server's own address is used instead.
_PLAIN_HOST = re.compile(r"[A-Za-z0-9.-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?")
_OPERATION_KEYS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def base_url(scope: Scope) -> str:
    """`scheme://host[:port]/root_path` of the request: where the client reached this mock."""
    host = next((value.decode("latin-1") for key, value in scope["headers"] if key == b"host"), "")
    if not _PLAIN_HOST.fullmatch(host):
        server = scope.get("server") or ("127.0.0.1", None)
        host = server[0] if server[1] is None else f"{server[0]}:{server[1]}"
        if ":" in server[0]:  # an IPv6 address
            host = f"[{server[0]}]" + ("" if server[1] is None else f":{server[1]}")
    return f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '').rstrip('/')}"


def _mock_first(servers: list[dict[str, Any]], url: str) -> list[dict[str, Any]]:
    """The mock's entry first, then the document's own entries (less one already naming the mock)."""
    return [{"url": url, "description": MOCK_SERVER_DESCRIPTION}, *(s for s in servers if s.get("url") != url)]


def serving_document(document: dict[str, Any], url: str) -> dict[str, Any]:
    """The document with `url` first in every `servers` list; everything else, `$ref`s included, as written.

    Only the `servers` lists are new objects; the rest is shared with `document`, which is left unchanged.
    """
    served = {**document, "servers": _mock_first(document.get("servers", []), url)}
    paths: dict[str, Any] = {}
    for template, item in document.get("paths", {}).items():
        item = dict(item)
        if "servers" in item:
            item["servers"] = _mock_first(item["servers"], url)
        for method in _OPERATION_KEYS:
            if isinstance(item.get(method), dict) and "servers" in item[method]:
                item[method] = {**item[method], "servers": _mock_first(item[method]["servers"], url)}
        paths[template] = item
    served["paths"] = paths
    return served


class _NoAliasDumper(yaml.SafeDumper):
    """Writes each node where it stands: a served document carries no `&id001` anchors of the dumper's."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    """Multi-line text (the descriptions) as a `|` block, as the file writes it."""
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


_NoAliasDumper.add_representer(str, _represent_str)


class ServedDocuments:
    """The ASGI endpoint of `json_path` and `yaml_path`."""

    def __init__(self, document: dict[str, Any], json_path: str, yaml_path: str) -> None:
        # A private copy: connexion and the rest of the mock never see the served servers lists.
        self.document = copy.deepcopy(document)
        self.paths = {json_path: (JSON_MEDIA_TYPE, self._json), yaml_path: (YAML_MEDIA_TYPE, self._yaml)}

    def serves(self, path: str) -> bool:
        return path in self.paths

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one per app; keyed by base URL, a handful in practice
    def _json(self, url: str) -> bytes:
        return orjson.dumps(serving_document(self.document, url))

    @functools.lru_cache(maxsize=64)  # noqa: B019 - as above
    def _yaml(self, url: str) -> bytes:
        text = yaml.dump(
            serving_document(self.document, url),
            Dumper=_NoAliasDumper,
            sort_keys=False,
            allow_unicode=True,
            width=120,
        )
        return text.encode("utf-8")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        media_type, render = self.paths[scope["path"]]
        if scope["method"] not in _ALLOWED_METHODS:
            body = orjson.dumps({"detail": f'Method "{scope["method"]}" not allowed.'})
            headers = [(b"content-type", JSON_MEDIA_TYPE), (b"allow", ", ".join(_ALLOWED_METHODS).encode())]
            await _send(send, 405, headers, body, with_body=True)
            return
        body = render(base_url(scope))
        await _send(send, 200, [(b"content-type", media_type)], body, with_body=scope["method"] == "GET")


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes, with_body: bool) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body if with_body else b""})
