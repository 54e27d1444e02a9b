"""What a semantic check is handed: the API's client, the contract, the run's config, and a cache so that
checks sharing a costly walk (every page of the collection) make it once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from billing_contract.spec import Spec
from conformance.config import SuiteConfig
from conformance.http import Client

T = TypeVar("T")


@dataclass
class CheckContext:
    api: str
    client: Client
    spec: Spec
    config: SuiteConfig
    cache: dict[Any, Any] = field(default_factory=dict)

    def cached(self, key: Any, compute: Callable[[], T]) -> T:
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]

    def parameter(self, operation_id: str, name: str, location: str = "query") -> dict[str, Any]:
        return next(p for p in self.spec.parameters(operation_id) if p["name"] == name and p["in"] == location)

    def parameter_schema(self, operation_id: str, name: str, location: str = "query") -> dict[str, Any]:
        return self.parameter(operation_id, name, location)["schema"]

    def path(self, operation_id: str) -> str:
        return self.spec.operations[operation_id].path
