"""Faults on request (`Prefer: fault=...`): `reset` aborts the TCP connection, `empty` closes it without
a byte, `malformed` sends the answer's JSON cut in half (with a matching Content-Length)."""

from __future__ import annotations

import asyncio
import socket
import struct

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_server.pipeline.scope import preference_of, set_fault


class Faults:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fault = preference_of(scope).fault
        if fault is None:
            await self.app(scope, receive, send)
            return
        set_fault(scope, fault)
        if fault == "malformed":
            await self._malformed(scope, receive, send)
            return
        transport = getattr(getattr(receive, "__self__", None), "transport", None)
        if transport is None:  # not served by uvicorn: the closest an ASGI app can do is an empty answer
            await Response(b"", 200, media_type="application/json")(scope, receive, send)
            return
        if fault == "reset":
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        else:
            transport.close()
        await asyncio.sleep(0)

    async def _malformed(self, scope: Scope, receive: Receive, send: Send) -> None:
        captured: list[Message] = []

        async def capture(message: Message) -> None:
            captured.append(message)

        await self.app(scope, receive, capture)
        start = next(m for m in captured if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in captured if m["type"] == "http.response.body")
        truncated = Response(body[: max(1, len(body) // 2)], start["status"])
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        truncated.raw_headers = [*headers, (b"content-length", str(len(truncated.body)).encode())]
        await truncated(scope, receive, send)
