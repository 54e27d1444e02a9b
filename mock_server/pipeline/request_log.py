"""The request log: what the contract routes received, so a client's test can assert what its code sent.

Each entry: when, how long the answer took, its status (null when a fault sent none), which fault, and
the headers the contract reads, secrets masked. Kept in the process, or, with several workers, in a
file they all append to (mock_server.shared_state).
"""

from __future__ import annotations

import functools
import math
import time
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billing_contract.spec import Spec
from mock_server.cors import request_headers
from mock_server.pipeline.scope import fault_of

LOG_SIZE = 10_000
MASK = "***"


class Entries(Protocol):
    """Where the request log keeps its entries: a deque in this process, or a file shared by workers."""

    def append(self, entry: dict[str, Any]) -> None: ...
    def clear(self) -> None: ...
    def __iter__(self) -> Iterator[dict[str, Any]]: ...


class RequestLog:
    """What the contract routes received, so a client's test can assert what its code sent: when, how
    long the answer took, its status (null when a fault sent none), which fault, and the headers the
    contract reads, secrets masked."""

    def __init__(
        self,
        headers: Iterable[str] = (),
        secrets: Iterable[str] = (),
        size: int = LOG_SIZE,
        entries: Entries | None = None,
    ) -> None:
        # In this process, or in a file every worker shares (mock_server.shared_state).
        self.entries: Entries = deque(maxlen=size) if entries is None else entries
        self.headers = {name.lower().encode("latin-1"): name for name in headers}
        self.secrets = frozenset(name.lower() for name in secrets)

    @classmethod
    def for_spec(cls, spec: Spec, entries: Entries | None = None) -> RequestLog:
        facts = spec.facts
        return cls(request_headers(spec), ("Authorization", facts.credential_headers[-1]), entries=entries)

    @staticmethod
    def clock() -> float:
        return time.perf_counter()

    def _header_values(self, scope: Scope) -> dict[str, str]:
        found: dict[str, str] = {}
        for key, value in scope.get("headers", []):
            name = self.headers.get(key)  # ASGI header names are lower-case
            if name is not None:
                found[name] = self._masked(name, value.decode("latin-1"))
        return found

    def _masked(self, name: str, value: str) -> str:
        if name.lower() not in self.secrets:
            return value
        if name.lower() == "authorization":  # the scheme word matters to the API (it must be `Bearer`)
            scheme, _, rest = value.partition(" ")
            return f"{scheme} {MASK}" if rest else MASK
        return MASK

    def add(self, scope: Scope, status: int, started: float | None = None) -> None:
        duration = 0.0 if started is None else self.clock() - started
        self.entries.append(
            {
                "time": _iso(time.time() - duration),
                "method": scope["method"],
                "path": scope["path"],
                "query": scope.get("query_string", b"").decode("latin-1"),
                "headers": self._header_values(scope),
                "status": status or None,
                "duration_ms": round(duration * 1000, 2),
                "fault": fault_of(scope),
            }
        )


@functools.lru_cache(maxsize=4)
def _second(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def _iso(timestamp: float) -> str:
    """UTC, milliseconds, `Z`: formatted once per second, since every request is logged."""
    fraction, whole = math.modf(timestamp)
    micros = round(fraction * 1_000_000)  # rounded to the microsecond first, as datetime does
    seconds = int(whole) + micros // 1_000_000
    return f"{_second(seconds)}.{micros % 1_000_000 // 1000:03d}Z"


class RequestLogging:
    """Logs every request that reaches it, with the status of its answer (null when none was sent)."""

    def __init__(self, app: ASGIApp, log: RequestLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0  # stays 0 when a fault closes the connection without an answer
        started = self.log.clock()

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            self.log.add(scope, status, started)
