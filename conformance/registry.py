"""Semantic checks register here by name, like Schemathesis's `@check`; the runner only looks them up.

A check is `def name(ctx) -> None`: it returns to pass, and raises one of `conformance.outcome`'s
`Failed`, `Skipped` or `Blocked` otherwise.
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


@functools.cache
def _contract() -> Spec:
    """The contract the checks are written against (the packaged document): labels and APIs come from it."""
    return Spec.load()


REGISTRY: dict[str, SemanticCheck] = {}


def check(operation_id: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register `func` under its own name, for one operation of the contract: its API and its report row
    (the label Schemathesis prints, so both kinds of checks share a row) are the spec's."""
    spec = _contract()
    api, label = profiles.of_operation(spec, operation_id).api, spec.operations[operation_id].label

    def register(func: CheckFunction) -> CheckFunction:
        name = func.__name__
        if name in REGISTRY:
            raise ValueError(f"semantic check {name!r} registered twice")
        doc = (func.__doc__ or "").strip().splitlines()
        REGISTRY[name] = SemanticCheck(name, api, label, func, doc[0] if doc else "", operation_id)
        return func

    return register
