"""Semantic checks register here by name, like Schemathesis's `@check`; the runner only looks them up.

A check is `def name(ctx) -> None`: it returns to pass, and raises one of `conformance.outcome`'s
`Failed`, `Skipped` or `Blocked` otherwise. Checks of an API may run in any order, several at once: one
that depends on another's finding says so through the context (`CheckContext.page_blocker`), never by
being registered after it. The one such finding is page 1's shape: the check registered with
`reports_page_shape=True` is named as the blocker of the others when page 1 cannot be read.
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
    # This check reports whether page 1 of the collection can be read: the others are blocked by it if not.
    reports_page_shape: bool = False


REGISTRY: dict[str, SemanticCheck] = {}


def check(api: str, operation: str, reports_page_shape: bool = False) -> Callable[[CheckFunction], CheckFunction]:
    """Register `func` under its own name, for one API's operation (its report row)."""

    def register(func: CheckFunction) -> CheckFunction:
        name = func.__name__
        if name in REGISTRY:
            raise ValueError(f"semantic check {name!r} registered twice")
        if reports_page_shape and page_shape_check(api):
            raise ValueError(f"{api} has two page-shape checks: {page_shape_check(api)} and {name}")
        doc = (func.__doc__ or "").strip().splitlines()
        REGISTRY[name] = SemanticCheck(name, api, operation, func, doc[0] if doc else "", reports_page_shape)
        return func

    return register


def page_shape_check(api: str) -> str | None:
    """The name of the check reporting whether page 1 of `api`'s collection can be read, if one is registered."""
    return next((c.name for c in REGISTRY.values() if c.api == api and c.reports_page_shape), None)
