"""What a semantic check is handed: the API's client, the contract, the run's config, and a cache so that
checks sharing a costly walk (every page of the collection) make it once.

It is also where a check gets a page of the collection (`page`): a page that cannot be read (not a 200,
not JSON, not the documented envelope) fails the check asking for it, unless the check reporting the
page's shape already failed on that root cause: then the check is blocked by it, and the root cause is
reported once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from billing_contract import rules
from billing_contract.profiles import PROFILES
from billing_contract.spec import Spec
from conformance.config import SuiteConfig
from conformance.http import Client, Exchange
from conformance.outcome import Blocked, Failed
from conformance.walks import Page

T = TypeVar("T")


def page_problems(api: str, exchange: Exchange) -> list[str]:
    """Why an exchange is not a readable page of the collection (empty when it is)."""
    if exchange.status != 200:
        return [f"HTTP {exchange.status}: {rules.shown(exchange.text)}"]
    is_json, body = rules.body_of(exchange)
    if not is_json:
        return [f"the body is not JSON: {rules.shown(exchange.text)}"]
    return PROFILES[api].page_unreadable(body)


@dataclass
class CheckContext:
    api: str
    client: Client
    spec: Spec
    config: SuiteConfig
    cache: dict[Any, Any] = field(default_factory=dict)
    # The check (semantic or Schemathesis') that reported the collection's pages unreadable, if one did.
    page_blocker: str | None = None
    # A Schemathesis check that already reported the list's 200 body breaking its schema, if one did.
    schema_reported_by: str | None = None

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

    def url(self, link: str) -> str:
        return self.client.url(link)

    def page(self, path_or_url: str, params: dict[str, Any] | None = None) -> Page:
        """A readable page of the collection, else Failed (or Blocked when its root cause is reported)."""
        return self.page_of(self.client.get(path_or_url, params))

    def page_of(self, exchange: Exchange) -> Page:
        """The page an exchange already made holds, read as `page` reads one."""
        problems = page_problems(self.api, exchange)
        if problems:
            if self.page_blocker:
                raise Blocked(self.page_blocker, "the collection's pages cannot be read as documented")
            raise Failed(
                "a page of the collection should be served as documented",
                "HTTP 200 with the documented page envelope",
                "; ".join(problems),
                exchange,
            )
        return Page(exchange, exchange.json())
