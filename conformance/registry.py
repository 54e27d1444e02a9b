"""Semantic checks register here by name, like Schemathesis's `@check`; the runner only looks them up.

A check is `def name(ctx) -> None`: it returns to pass, and raises one of `conformance.outcome`'s
`Failed`, `Skipped` or `Blocked` otherwise. Checks of an API may run in any order, several at once: one
that depends on another's finding says so through the context (`CheckContext.page_blocker`), never by
being registered after it. The one such finding is page 1's shape: the check registered with
`reports_page_shape=True` is named as the blocker of the others when page 1 cannot be read.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from billing_contract import profiles
from billing_contract.spec import Spec

if TYPE_CHECKING:
    from conformance.context import CheckContext


CheckFunction = Callable[["CheckContext"], None]


@dataclass(frozen=True)
class SemanticCheck:
    name: str
    api: str  # the API profile's name
    operation: str  # the report row: the operation's label as Schemathesis prints it ("GET /path")
    func: CheckFunction
    description: str
    operation_id: str = ""
    # This check reports whether page 1 of the collection can be read: the others are blocked by it if not.
    reports_page_shape: bool = False


@functools.cache
def _contract() -> Spec:
    """The contract the checks are written against (the packaged document): labels and APIs come from it."""
    return Spec.load()


REGISTRY: dict[str, SemanticCheck] = {}


def check(operation_id: str, reports_page_shape: bool = False) -> Callable[[CheckFunction], CheckFunction]:
    """Register `func` under its own name, for one operation of the contract: its API and its report row
    (the label Schemathesis prints, so both kinds of checks share a row) are the spec's."""
    spec = _contract()
    api, label = profiles.of_operation(spec, operation_id).api, spec.operations[operation_id].label

    def register(func: CheckFunction) -> CheckFunction:
        name = func.__name__
        if name in REGISTRY:
            raise ValueError(f"semantic check {name!r} registered twice")
        if reports_page_shape and page_shape_check(api):
            raise ValueError(f"{api} has two page-shape checks: {page_shape_check(api)} and {name}")
        doc = (func.__doc__ or "").strip().splitlines()
        REGISTRY[name] = SemanticCheck(name, api, label, func, doc[0] if doc else "", operation_id, reports_page_shape)
        return func

    return register


def page_shape_check(api: str) -> str | None:
    """The name of the check reporting whether page 1 of `api`'s collection can be read, if one is registered."""
    return next((c.name for c in REGISTRY.values() if c.api == api and c.reports_page_shape), None)
