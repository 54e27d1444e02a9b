"""What the pipeline records about one request, in its ASGI scope: the preference read from `Prefer`,
the fault applied and why the request was refused (for the request log), and, once connexion has routed
it, the operation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.types import Scope

SCOPE_KEY = "billing_mock"


@dataclass(frozen=True)
class Preference:
    """A request's `Prefer`: a documented status or named example to answer, a delay, a fault."""

    code: int | None = None
    example: str | None = None
    delay_ms: int | None = None
    fault: str | None = None

    @property
    def chooses_answer(self) -> bool:
        return self.code is not None or bool(self.example)


NO_PREFERENCE = Preference()


def _record(scope: Scope) -> dict[str, Any]:
    """This request's record. Created by the request log before anything runs, so that the copies of the
    scope connexion's router makes (shallow) share it, and a reason set deep inside reaches the log."""
    return scope.setdefault("extensions", {}).setdefault(SCOPE_KEY, {})


def start_record(scope: Scope) -> dict[str, Any]:
    return _record(scope)


def set_preference(scope: Scope, preference: Preference) -> None:
    _record(scope)["prefer"] = preference


def preference_of(scope: Scope) -> Preference:
    return scope.get("extensions", {}).get(SCOPE_KEY, {}).get("prefer", NO_PREFERENCE)


def set_fault(scope: Scope, fault: str) -> None:
    _record(scope)["fault"] = fault


def fault_of(scope: Scope) -> str | None:
    """The fault applied to this request, if any (for the request log)."""
    return scope.get("extensions", {}).get(SCOPE_KEY, {}).get("fault")


def set_reason(scope: Scope, reasons: list[dict[str, str]]) -> None:
    """Why the request was refused (mock_server.errors.reasons), for the request log and the access line."""
    _record(scope)["reason"] = reasons


def reason_of(scope: Scope) -> list[dict[str, str]] | None:
    return scope.get("extensions", {}).get(SCOPE_KEY, {}).get("reason")


def operation_of(scope: Scope) -> str | None:
    """The operation connexion routed the request to (inside connexion's stack)."""
    return scope.get("extensions", {}).get("connexion_routing", {}).get("operation_id")
