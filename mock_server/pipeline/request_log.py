"""The request log: what the contract routes received, so a client's test can assert what its code sent.

Each entry: when, how long the answer took, its status (null when a fault sent none), which fault, why
the request was refused (null when it was not), and the headers the contract reads, secrets masked. Kept
in the process, or, with several workers, in a file they all append to (mock_server.shared_state).

A refused request's access line says why too: uvicorn's own line, with the reason appended (`… 400 Bad
Request: query page_size: maximum 100, got 101`), wherever uvicorn's access log is on.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import math
import time
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billing_contract.spec import Spec
from mock_server.cors import request_headers
from mock_server.pipeline.scope import fault_of, reason_of, start_record

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
                "reason": reason_of(scope),
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


# The reason of the refused request whose status line uvicorn is writing (its access line is logged then).
_REASON: contextvars.ContextVar[str | None] = contextvars.ContextVar("billing_mock_reason", default=None)
ACCESS_LOGGER = logging.getLogger("uvicorn.access")


class _ReasonOnRecord(logging.Filter):
    """Puts the reason, if any, on uvicorn's access record (a filter on the `uvicorn.access` logger)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.billing_mock_reason = _REASON.get()
        return True


class _WithReason(logging.Formatter):
    """Wraps an access handler's formatter (uvicorn's): the same line, with `: <reason>` appended."""

    def __init__(self, inner: logging.Formatter | None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        line = self.inner.format(record)
        reason = getattr(record, "billing_mock_reason", None)
        return f"{line}: {reason}" if reason else line


_ON_RECORD = _ReasonOnRecord()


def _reasons_in_access_lines() -> None:
    """Once uvicorn has set up its logging (handlers are replaced when it does): each access handler's
    formatter wrapped, the filter added (both idempotent)."""
    ACCESS_LOGGER.addFilter(_ON_RECORD)
    for handler in ACCESS_LOGGER.handlers:
        if not isinstance(handler.formatter, _WithReason):
            handler.setFormatter(_WithReason(handler.formatter))


def reason_line(reasons: list[dict[str, str]]) -> str:
    return "; ".join(reason["message"] for reason in reasons)


async def _send_with_reason(send: Send, message: Message, reasons: list[dict[str, str]]) -> None:
    """Send the status line of a refused request; its access line, when uvicorn writes one, says why."""
    _reasons_in_access_lines()
    token = _REASON.set(reason_line(reasons))
    try:
        await send(message)
    finally:
        _REASON.reset(token)


class RequestLogging:
    """Logs every request that reaches it, with the status of its answer (null when none was sent) and,
    when refused, why (in the entry and in the access line)."""

    def __init__(self, app: ASGIApp, log: RequestLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0  # stays 0 when a fault closes the connection without an answer
        started = self.log.clock()
        record = start_record(scope)

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                reasons = record.get("reason")
                if reasons:
                    await _send_with_reason(send, message, reasons)
                    return
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            self.log.add(scope, status, started)
