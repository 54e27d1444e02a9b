"""Semantic checks register here by name, like Schemathesis's `@check`; the runner only looks them up.

A check is `def name(ctx) -> None`: it returns to pass, and raises one of `conformance.outcome`'s
`Failed`, `Skipped` or `Blocked` otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conformance.context import CheckContext


CheckFunction = Callable[["CheckContext"], None]


@dataclass(frozen=True)
class SemanticCheck:
    name: str
    api: str
    operation: str
    func: CheckFunction
    description: str


REGISTRY: dict[str, SemanticCheck] = {}


def check(api: str, operation: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register `func` under its own name, for one API's operation (its report row)."""

    def register(func: CheckFunction) -> CheckFunction:
        name = func.__name__
        if name in REGISTRY:
            raise ValueError(f"semantic check {name!r} registered twice")
        doc = (func.__doc__ or "").strip().splitlines()
        REGISTRY[name] = SemanticCheck(name, api, operation, func, doc[0] if doc else "")
        return func

    return register
