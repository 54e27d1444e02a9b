"""`Prefer` (RFC 7240, Prism-compatible), read once per request: `code=N`, `example=NAME`, `delay=MS`,
`fault=reset|empty|malformed`. Unknown preferences are ignored; a value the mock cannot honour is a
400 in the API's own error body."""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mock_server.controls import MAX_DELAY_MS
from mock_server.errors import ApiProblem, FieldError, Kind, Reason
from mock_server.pipeline.scope import NO_PREFERENCE, Preference, set_preference

FAULTS = ("reset", "empty", "malformed")

ProblemResponse = Callable[[Scope, ApiProblem], Response]


class PreferError(ValueError):
    """A `Prefer` value the mock cannot honour; the message says what is accepted."""


def parse_prefer(header: str | None) -> Preference:
    """Parse `Prefer: code=500, example=seedPage, delay=200`."""
    if not header:
        return NO_PREFERENCE
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


def preference_problem(message: str) -> ApiProblem:
    return ApiProblem(
        Kind.INVALID_REQUEST, (FieldError("header", "Prefer", Reason.INVALID, message=message),), detail=message
    )


class ReadPreference:
    """Reads `Prefer` into the scope, once; refuses one it cannot honour."""

    def __init__(self, app: ASGIApp, problem_response: ProblemResponse) -> None:
        self.app = app
        self.problem_response = problem_response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        header = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"prefer"), None)
        try:
            preference = parse_prefer(header)
        except PreferError as exc:
            await self.problem_response(scope, preference_problem(str(exc)))(scope, receive, send)
            return
        if preference is not NO_PREFERENCE:
            set_preference(scope, preference)
        await self.app(scope, receive, send)
