"""CORS for browser clients: preflights answered before the contract sees them.

An origin entry without a port (`http://localhost`) admits that host on any port, since dev servers
move around; `*` admits every origin.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billing_contract.spec import Spec

EXPOSED = ["X-Correlation-Id", "Retry-After", "WWW-Authenticate", "Allow"]


def origin_regex(origins: Sequence[str]) -> str:
    parts = []
    for origin in origins:
        if origin == "*":
            return ".*"
        if re.search(r":\d+$", origin):
            parts.append(re.escape(origin))
        else:
            parts.append(re.escape(origin) + r"(:\d+)?")
    return "^(" + "|".join(parts) + ")$" if parts else "^$"


def request_headers(spec: Spec) -> list[str]:
    """Every header a browser client may send: the spec's header parameters and credentials, plus `Prefer`."""
    names = ["Prefer", "Content-Type"]
    for scheme in spec.document.get("components", {}).get("securitySchemes", {}).values():
        names.append("Authorization" if scheme.get("type") == "http" else scheme.get("name", ""))
    for operation_id in spec.operations:
        names += [p["name"] for p in spec.parameters(operation_id) if p["in"] == "header"]
    return sorted({n for n in names if n})


class Cors:
    """Starlette's CORS middleware for a browser's request (it has an `Origin`); for any other request,
    only what Starlette would add to the answer (`Vary: Origin`), without its per-request parsing."""

    def __init__(self, app: ASGIApp, origins: Sequence[str], spec: Spec) -> None:
        self.app = app
        self.starlette = CORSMiddleware(
            app,
            allow_origin_regex=origin_regex(origins),
            allow_methods=["GET", "HEAD", "OPTIONS"],
            allow_headers=request_headers(spec),
            expose_headers=EXPOSED,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or any(name == b"origin" for name, _ in scope["headers"]):
            await self.starlette(scope, receive, send)
            return

        async def vary_origin(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": _with_vary_origin(message.get("headers", []))}
            await send(message)

        await self.app(scope, receive, vary_origin)


def _with_vary_origin(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`Vary: Origin` joined to the answer's own Vary values, as Starlette's MutableHeaders would set it."""
    headers = list(headers)
    varies = [i for i, (name, _) in enumerate(headers) if name == b"vary"]  # ASGI names are lower-case
    if not varies:
        return [*headers, (b"vary", b"Origin")]
    joined = b", ".join([*(headers[i][1] for i in varies), b"Origin"])
    headers[varies[0]] = (b"vary", joined)
    return [h for i, h in enumerate(headers) if i not in varies[1:]]
