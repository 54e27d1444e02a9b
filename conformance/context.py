"""What a semantic check is handed: its own client, the contract, the run's config, and what the checks
of its API share (`ApiState`): answers and costly values (a walk over every page) computed once, by
whichever check asks first, while the others wait for it.

It is also where a check gets a page of the collection (`page`): a page that cannot be read (not a 200,
not JSON, not the documented envelope) fails the check asking for it, unless page 1 of the collection
cannot be read either and a check reports that: then the check is blocked by it, and the root cause is
reported once. Which check that is (`page_blocker`) follows from page 1 itself, computed once per API,
so it does not matter which check runs first, or how many run at once.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from billing_contract import rules
from billing_contract.profiles import PROFILES
from billing_contract.spec import Spec
from conformance.concurrency import Shared, clone_exception
from conformance.config import SuiteConfig
from conformance.http import Client, Exchange, Session
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


def _no_verdict() -> str | None:
    return None


@dataclass
class ApiState:
    """What every check of one API shares during a run."""

    api: str
    session: Session
    spec: Spec
    config: SuiteConfig
    # Page 1 of the collection: what the preflight asked for and the page-shape check judges.
    first_path: str
    # The check that reports page 1's shape, when it is part of the run (not excluded).
    page_shape_check: str | None = None
    # The Schemathesis check that reported page 1's documented 200 body breaking the schema, if one did;
    # it may wait for the API's Schemathesis phase to end (asked only once page 1 is found wrong).
    schema_verdict: Callable[[], str | None] = _no_verdict
    values: Shared[_Outcome] = field(default_factory=Shared)


@dataclass(frozen=True)
class _Outcome:
    """A shared value, or the exception computing it raised, the requests it rests on, and the last
    exchange computing it made (a check using the value shows it as its last, as if it had computed it)."""

    value: Any
    error: BaseException | None
    requests: frozenset[Any]
    last: Exchange | None


class CheckContext:
    """One check's view of its API: its own client, the shared state behind it."""

    def __init__(self, state: ApiState) -> None:
        self.state = state
        self.client = Client(state.session)

    @property
    def api(self) -> str:
        return self.state.api

    @property
    def spec(self) -> Spec:
        return self.state.spec

    @property
    def config(self) -> SuiteConfig:
        return self.state.config

    def cached(self, key: Hashable, compute: Callable[[], T]) -> T:
        """`compute()`'s value, computed once per run and API whichever check asks first (its failure,
        too, is shared: asking again does not send its requests again). The requests it made count
        for every check that uses it."""

        def shared() -> _Outcome:
            made = self.client.made
            value, error = None, None
            with self.client.recording() as requests:
                try:
                    value = compute()
                except Exception as exc:  # a check's outcome (Failed, Skipped, ...), shared as one
                    error = exc
            last = self.client.last if self.client.made > made else None
            return _Outcome(value, error, frozenset(requests), last)

        outcome = self.state.values.get(key, shared)
        self.client.note(set(outcome.requests))
        self.client.last = outcome.last or self.client.last
        if outcome.error is not None:
            raise clone_exception(outcome.error)
        return outcome.value

    def parameter(self, operation_id: str, name: str, location: str = "query") -> dict[str, Any]:
        return next(p for p in self.spec.parameters(operation_id) if p["name"] == name and p["in"] == location)

    def parameter_schema(self, operation_id: str, name: str, location: str = "query") -> dict[str, Any]:
        return self.parameter(operation_id, name, location)["schema"]

    def path(self, operation_id: str) -> str:
        return self.spec.operations[operation_id].path

    def url(self, link: str) -> str:
        return self.client.url(link)

    def first_page(self) -> Exchange:
        """Page 1 of the collection, unfiltered, as the client's defaults ask for it (fetched once)."""
        return self.client.get(self.state.first_path)

    def schema_reported_by(self) -> str | None:
        """The Schemathesis check that already reported page 1's body breaking the schema, if one did."""
        return self.state.schema_verdict()

    def page_blocker(self) -> str | None:
        """The check that reports the collection's pages unreadable: None while page 1 can be read; else
        Schemathesis' schema check if it reported the body, else the page-shape check (when it runs)."""
        return self.cached(("page blocker",), self._page_blocker)

    def _page_blocker(self) -> str | None:
        if not page_problems(self.api, self.first_page()):
            return None
        return self.schema_reported_by() or self.state.page_shape_check

    def page(self, path_or_url: str, params: dict[str, Any] | None = None) -> Page:
        """A readable page of the collection, else Failed (or Blocked when its root cause is reported)."""
        return self.page_of(self.client.get(path_or_url, params))

    def page_of(self, exchange: Exchange) -> Page:
        """The page an exchange already made holds, read as `page` reads one."""
        problems = page_problems(self.api, exchange)
        if problems:
            blocker = self.page_blocker()
            if blocker:
                raise Blocked(blocker, "the collection's pages cannot be read as documented")
            raise Failed(
                "a page of the collection should be served as documented",
                "HTTP 200 with the documented page envelope",
                "; ".join(problems),
                exchange,
            )
        return Page(exchange, exchange.json())
