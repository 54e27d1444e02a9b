"""A tiny ASGI wrapper to break one rule of the mock: a handler sees each request and may rewrite it,
call the mock (any number of times) and rewrite the reply."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode

Scope = dict[str, Any]


@dataclass
class Request:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    raw_query: bytes = b""
    scope: Scope = field(default_factory=dict, repr=False)

    def param(self, name: str) -> str | None:
        return next((v for k, v in self.query if k == name), None)

    def with_query(self, query: list[tuple[str, str]]) -> Request:
        return replace(self, query=query, raw_query=urlencode(query).encode())

    def without(self, *names: str) -> Request:
        return self.with_query([(k, v) for k, v in self.query if k not in names])

    def with_param(self, name: str, value: str) -> Request:
        return self.with_query([*((k, v) for k, v in self.query if k != name), (name, value)])

    def with_headers(self, **headers: str) -> Request:
        return replace(self, headers={**self.headers, **{k.lower().replace("_", "-"): v for k, v in headers.items()}})


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def with_json(self, data: Any, status: int | None = None) -> Reply:
        return replace(self, body=json.dumps(data).encode(), status=status or self.status)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def without_header(self, name: str) -> Reply:
        return replace(self, headers=[(k, v) for k, v in self.headers if k.lower() != name.lower()])

    def with_header(self, name: str, value: str) -> Reply:
        return replace(self, headers=[*self.without_header(name).headers, (name, value)])


Call = Callable[[Request], Awaitable[Reply]]
Handler = Callable[[Request, Call], Awaitable[Reply]]


class Broken:
    """ASGI app: `handler(request, call_mock) -> reply` for every HTTP request."""

    def __init__(self, app: Any, handler: Handler) -> None:
        self.app = app
        self.handler = handler

    async def _call(self, request: Request) -> Reply:
        scope = {
            **request.scope,
            "method": request.method,
            "path": request.path,
            "raw_path": request.path.encode(),
            "query_string": request.raw_query,
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in request.headers.items()],
        }
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return {"type": "http.disconnect"}

        status, headers, chunks = 500, [], []

        async def send(message: dict[str, Any]) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in message.get("headers", [])]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return Reply(status, headers, b"".join(chunks))

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_query = scope.get("query_string", b"")
        request = Request(
            scope["method"],
            scope["path"],
            parse_qsl(raw_query.decode("latin-1"), keep_blank_values=True),
            {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])},
            raw_query,
            scope,
        )
        reply = await self.handler(request, self._call)
        headers = [
            (k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers if k.lower() != "content-length"
        ]
        headers.append((b"content-length", str(len(reply.body)).encode()))
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": reply.body})
