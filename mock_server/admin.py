"""The tooling API under `/__mock/` (documented in `specs/mock-admin.yaml`, apart from the contract)."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import orjson
import yaml
from starlette.types import Receive, Scope, Send

from billing_contract.documents import ADMIN_SPEC_PATH
from fixtures import FixturesError, generate_dataset
from fixtures.dataset import parse_document

if TYPE_CHECKING:
    from mock_server.app import MockApp

PREFIX = "/__mock"

MAX_BODY = 256 * 1024 * 1024
LOG_SIZE = 10_000


class AdminError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class RequestLog:
    """What the contract routes received, so a client's test can assert what its code sent."""

    def __init__(self, size: int = LOG_SIZE) -> None:
        self.entries: deque[dict[str, Any]] = deque(maxlen=size)

    def add(self, scope: Scope, status: int) -> None:
        query = scope.get("query_string", b"").decode("latin-1")
        self.entries.append({"method": scope["method"], "path": scope["path"], "query": query, "status": status})


Handler = Callable[[bytes], Awaitable[tuple[int, Any]]]


class AdminApi:
    def __init__(self, mock: MockApp) -> None:
        self.mock = mock
        self.routes: dict[tuple[str, str], Handler] = {
            ("GET", "/health"): self.health,
            ("GET", "/dataset"): self.dataset,
            ("PUT", "/dataset"): self.load_dataset,
            ("POST", "/dataset/reset"): self.reset_dataset,
            ("GET", "/requests"): self.requests,
            ("DELETE", "/requests"): self.clear_requests,
            ("GET", "/openapi.json"): self.openapi,
        }

    async def health(self, _: bytes) -> tuple[int, Any]:
        return 200, {"status": "ok", "pid": os.getpid()}

    async def dataset(self, _: bytes) -> tuple[int, Any]:
        return 200, self.mock.state.summary()

    async def load_dataset(self, body: bytes) -> tuple[int, Any]:
        document = _json(body)
        try:
            dataset = parse_document(document, "request body", self.mock.state.spec)
        except FixturesError as exc:
            raise AdminError(400, str(exc)) from None
        self.mock.swap_dataset(dataset)
        return 200, self.mock.state.summary()

    async def reset_dataset(self, body: bytes) -> tuple[int, Any]:
        options = _json(body) if body.strip() else {}
        config = self.mock.state.config
        allowed = {"seed", "records", "statements", "accounts"}
        if not isinstance(options, dict) or set(options) - allowed:
            raise AdminError(400, f"body must be an object with only: {', '.join(sorted(allowed))}")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in options.values()):
            raise AdminError(400, "every field must be an integer")
        sizes = {k: v for k, v in options.items() if k != "seed"}
        if any(v < 0 for v in sizes.values()) or sizes.get("accounts", 1) < 1:
            raise AdminError(400, "sizes must be >= 0 and accounts >= 1")
        seed = options.get("seed", config.seed)
        size = replace(config.size, **sizes)
        self.mock.swap_dataset(generate_dataset(seed, size, self.mock.state.spec))
        return 200, self.mock.state.summary()

    async def requests(self, _: bytes) -> tuple[int, Any]:
        return 200, {"requests": list(self.mock.request_log.entries)}

    async def clear_requests(self, _: bytes) -> tuple[int, Any]:
        self.mock.request_log.entries.clear()
        return 204, None

    async def openapi(self, _: bytes) -> tuple[int, Any]:
        return 200, yaml.safe_load(ADMIN_SPEC_PATH.read_text(encoding="utf-8"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"][len(PREFIX) :]
        method = "GET" if scope["method"] == "HEAD" else scope["method"]
        handler = self.routes.get((method, path))
        try:
            if handler is None:
                known = sorted(m for m, p in self.routes if p == path)
                raise AdminError(405, f"allowed: {', '.join(known)}") if known else AdminError(404, "Not found.")
            status, body = await handler(await _read_body(receive))
        except AdminError as exc:
            status, body = exc.status, {"detail": exc.detail}
        payload = b"" if body is None else orjson.dumps(body)
        headers = [(b"content-length", str(len(payload)).encode())]
        if body is not None:
            headers.append((b"content-type", b"application/json"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else payload})


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise AdminError(400, f"body is not JSON: {exc}") from None


async def _read_body(receive: Receive) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise AdminError(413, "body too large")
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)
