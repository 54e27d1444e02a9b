"""Client-team controls: make the mock answer the unhappy paths on demand.

* `Prefer` (Prism-compatible): `code=N`, `example=NAME`, plus `delay=MS` and `fault=reset|empty|malformed`.
* `--latency MIN-MAX` and `--error-rate P`, drawn from a generator seeded like the data.
* `--rate-limit`: the real API's throttle on every operation that documents `429`.

Documented answers come from the spec: the response object for the chosen status, its named (or
first) example as the body, and values for its required headers from their schemas.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any

import orjson
from connexion.exceptions import ProblemException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billing_contract.spec import Spec
from mock_server.errors import ApiProblem, FieldError, Kind, Reason

Headers = list[tuple[bytes, bytes]]
FAULTS = ("reset", "empty", "malformed")
MAX_DELAY_MS = 60_000
SCOPE_KEY = "billing_mock"


@dataclass(frozen=True)
class Preference:
    code: int | None = None
    example: str | None = None
    delay_ms: int | None = None
    fault: str | None = None


class PreferError(ValueError):
    """A `Prefer` value the mock cannot honour; the message says what is accepted."""


def parse_prefer(header: str | None) -> Preference:
    """Parse `Prefer: code=500, example=seedPage, delay=200` (unknown preferences are ignored, RFC 7240)."""
    if not header:
        return Preference()
    values: dict[str, str] = {}
    for part in header.replace(";", ",").split(","):
        name, _, value = part.strip().partition("=")
        values[name.strip().lower()] = value.strip().strip('"')
    code = delay = None
    if "code" in values:
        if not values["code"].isdigit() or not 100 <= int(values["code"]) <= 599:
            raise PreferError(f"Prefer code={values['code']!r} is not an HTTP status code")
        code = int(values["code"])
    if "delay" in values:
        if not values["delay"].isdigit() or int(values["delay"]) > MAX_DELAY_MS:
            raise PreferError(f"Prefer delay={values['delay']!r} must be milliseconds from 0 to {MAX_DELAY_MS}")
        delay = int(values["delay"])
    fault = values.get("fault")
    if fault is not None and fault not in FAULTS:
        raise PreferError(f"Prefer fault={fault!r} is not one of: {', '.join(FAULTS)}")
    return Preference(code=code, example=values.get("example") or None, delay_ms=delay, fault=fault)


@dataclass(frozen=True)
class ControlSettings:
    latency_ms: tuple[int, int] | None = None
    error_rate: float = 0.0
    rate_limit: bool = False
    seed: int = 0

    @property
    def deterministic(self) -> bool:
        """Whether an answer depends on the request and the data alone."""
        return self.latency_ms is None and self.error_rate == 0 and not self.rate_limit


def parse_latency(text: str) -> tuple[int, int]:
    low, sep, high = text.partition("-")
    try:
        bounds = (int(low), int(high if sep else low))
    except ValueError:
        raise ValueError(f"latency must be MIN-MAX milliseconds, got {text!r}") from None
    if not 0 <= bounds[0] <= bounds[1] <= MAX_DELAY_MS:
        raise ValueError(f"latency must satisfy 0 <= MIN <= MAX <= {MAX_DELAY_MS}, got {text!r}")
    return bounds


class DocumentedResponses:
    """The spec's documented answer for an operation and status, ready to send."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec

    def statuses(self, operation_id: str) -> tuple[int, ...]:
        return self.spec.operations[operation_id].statuses

    def examples(self, operation_id: str, status: int) -> list[str]:
        media = self.spec.response(operation_id, status).get("content", {}).get("application/json", {})
        return list(media.get("examples", {}))

    def render(
        self, operation_id: str, status: int, example: str | None
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        response = self.spec.response(operation_id, status)
        headers = [(b"content-type", b"application/json")]
        for name, header in (response.get("headers") or {}).items():
            if header.get("required"):
                headers.append((name.lower().encode(), _header_value(header.get("schema", {})).encode()))
        body = orjson.dumps(self.spec.example(operation_id, status, example))
        return status, headers, body


def _header_value(schema: dict[str, Any]) -> str:
    if schema.get("enum"):
        return str(schema["enum"][0])
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    if schema.get("type") == "integer":
        return str(max(1, schema.get("minimum", 1)))
    return "mock"


def preference_problem(message: str) -> ApiProblem:
    return ApiProblem(
        Kind.INVALID_REQUEST, (FieldError("header", "Prefer", Reason.INVALID, message=message),), detail=message
    )


class Throttle:
    """The API's rate limit, enforced: a sliding window per (operation, account) of at most `limit`
    requests in `window` seconds (the spec's `x-rate-limit`); the suite's pacer is its opposite."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[tuple[str, str], deque[float]] = defaultdict(deque)

    def retry_after(self, operation_id: str, account: str, now: float | None = None) -> int | None:
        """Record a request; None when allowed, else whole seconds until the window has room."""
        now = time.monotonic() if now is None else now
        hits = self._hits[(operation_id, account)]
        while hits and now - hits[0] >= self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return max(1, int(hits[0] + self.window - now + 0.999))
        hits.append(now)
        return None


def operation_of(scope: Scope) -> str | None:
    return scope.get("extensions", {}).get("connexion_routing", {}).get("operation_id")


def preference_of(scope: Scope) -> Preference:
    return scope.get("extensions", {}).get(SCOPE_KEY, {}).get("prefer", Preference())


def fault_of(scope: Scope) -> str | None:
    """The fault applied to this request, if any (for the request log)."""
    return scope.get("extensions", {}).get(SCOPE_KEY, {}).get("fault")


async def send_response(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Controls:
    """Shared state of the controls for one app: settings, seeded generator, throttle windows."""

    def __init__(self, spec: Spec, settings: ControlSettings) -> None:
        self.settings = settings
        self.documented = DocumentedResponses(spec)
        self.random = random.Random(settings.seed)
        self.throttle = Throttle(spec.facts.rate_limit.requests, spec.facts.rate_limit.window_s)
        self.throttled_operations = frozenset(op_id for op_id, op in spec.operations.items() if 429 in op.statuses)

    def latency_ms(self, preference: Preference) -> int:
        if preference.delay_ms is not None:
            return preference.delay_ms
        if self.settings.latency_ms:
            return self.random.randint(*self.settings.latency_ms)
        return 0

    def inject_error(self) -> bool:
        return self.settings.error_rate > 0 and self.random.random() < self.settings.error_rate


class PreferBeforeSecurity:
    """Connexion middleware after routing: checks the preference against the operation, and answers a
    chosen code that belongs to the security check (401/403) before credentials are looked at."""

    def __init__(self, next_app: ASGIApp, controls: Controls, auth_status: dict[str, int]) -> None:
        self.next_app = next_app
        self.controls = controls
        self.auth_status = auth_status

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        operation_id = operation_of(scope)
        preference = preference_of(scope)
        if scope["type"] != "http" or operation_id is None or (preference.code is None and not preference.example):
            await self.next_app(scope, receive, send)
            return
        documented = self.controls.documented
        code = preference.code or 200
        if code not in documented.statuses(operation_id):
            listed = ", ".join(map(str, documented.statuses(operation_id)))
            raise preference_problem(f"Prefer code={code} is not documented for this operation; documented: {listed}")
        if preference.example and preference.example not in documented.examples(operation_id, code):
            listed = ", ".join(documented.examples(operation_id, code)) or "none"
            raise preference_problem(
                f"Prefer example={preference.example} is not documented for status {code}; documented: {listed}"
            )
        if code == self.auth_status.get(operation_id):
            if preference.example:
                await send_response(send, *documented.render(operation_id, code, preference.example))
                return
            # Refused as the real check refuses: the body says whether credentials were presented
            # (simplejwt's token_not_valid with a token, "not provided" without one).
            raise ProblemException(status=401, title="Unauthorized", detail="Prefer code")
        await self.next_app(scope, receive, send)


class ControlsAfterValidation:
    """Connexion middleware after security and validation: throttling, the chosen code, injected errors."""

    def __init__(self, next_app: ASGIApp, controls: Controls, account_header: str) -> None:
        self.next_app = next_app
        self.controls = controls
        self.account_header = account_header.lower().encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        operation_id = operation_of(scope)
        if scope["type"] != "http" or operation_id is None:
            await self.next_app(scope, receive, send)
            return
        controls = self.controls
        if controls.settings.rate_limit and operation_id in controls.throttled_operations:
            account = next((v.decode("latin-1") for k, v in scope["headers"] if k == self.account_header), "")
            wait = controls.throttle.retry_after(operation_id, account)
            if wait is not None:
                raise ApiProblem(Kind.THROTTLED, retry_after=wait)
        preference = preference_of(scope)
        if preference.code is not None or preference.example:
            await send_response(
                send, *controls.documented.render(operation_id, preference.code or 200, preference.example)
            )
            return
        if controls.inject_error() and 500 in controls.documented.statuses(operation_id):
            raise ApiProblem(Kind.SERVER_ERROR)
        await self.next_app(scope, receive, send)


async def apply_fault(fault: str, scope: Scope, receive: Receive, send: Send, app: ASGIApp) -> None:
    """`reset`: abort the TCP connection; `empty`: close it without a byte; `malformed`: truncated JSON."""
    scope.setdefault("extensions", {}).setdefault(SCOPE_KEY, {})["fault"] = fault
    if fault == "malformed":
        captured: list[Message] = []

        async def capture(message: Message) -> None:
            captured.append(message)

        await app(scope, receive, capture)
        start = next(m for m in captured if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in captured if m["type"] == "http.response.body")
        truncated = body[: max(1, len(body) // 2)]
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        await send_response(send, start["status"], headers, truncated)
        return
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if transport is None:  # not served by uvicorn: the closest an ASGI app can do is an empty answer
        await send_response(send, 200, [(b"content-type", b"application/json")], b"")
        return
    if fault == "reset":
        import socket
        import struct

        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()
    await asyncio.sleep(0)
