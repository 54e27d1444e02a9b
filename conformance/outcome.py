"""How a semantic check ends, apart from passing: the exceptions it raises and the helpers that raise them.

Kept out of the registry so that the modules checks use (walks, rules) need not import the registry.
A check returns to pass; it raises `Failed` when the target breaks a rule, `Skipped` when the data at
hand cannot decide the rule (or nothing was exercised), and `Blocked` when a rule it depends on (a
readable page) is already reported broken by another check: one root cause, one failure.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conformance.http import Exchange


def said(value: Any) -> str:
    """A value as a report shows it: text as is, anything else as JSON (`null`, `["a"]`), never Python."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


class Failed(Exception):
    """The target broke a rule: what was expected, what came back, and the exchange that shows it."""

    def __init__(self, message: str, expected: Any = "", got: Any = "", exchange: Exchange | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.expected = said(expected)
        self.got = said(got)
        self.exchange = exchange
        # Further distinct failures found by the same check after this one (see `Cases`).
        self.more: list[Failed] = []


class Skipped(Exception):
    """The check cannot decide on this data, or had nothing to exercise; never a pass, never a failure."""


class Blocked(Exception):
    """A rule this check depends on is broken, and reported by `blocker`; neither passed nor failed."""

    def __init__(self, blocker: str, why: str) -> None:
        super().__init__(f"blocked by {blocker}: {why}")
        self.blocker = blocker
        self.why = why


def ensure(condition: bool, message: str, expected: Any = "", got: Any = "", exchange: Exchange | None = None) -> None:
    if not condition:
        raise Failed(message, expected, got, exchange)


@dataclass
class Cases:
    """Runs a check's independent cases to the end, so every distinct failure is reported, not the first.

        cases = Cases()
        for value in values:
            with cases.case():
                ...  # ensure(...)
        cases.finish()  # raises the first failure, carrying the others

    A case that raises `Blocked` is remembered; `finish` raises it when no case failed (a check that
    tested part of its rule and was blocked on the rest is not a pass).
    """

    failures: list[Failed] = field(default_factory=list)
    blocked: Blocked | None = None
    ran: int = 0

    @contextmanager
    def case(self) -> Iterator[None]:
        try:
            yield
        except Failed as failure:
            # A case may itself report several failures (a nested `Cases`): each is kept on its own.
            nested, failure.more = failure.more, []
            self.failures += [failure, *nested]
        except Blocked as blocked:
            self.blocked = self.blocked or blocked
            return
        self.ran += 1

    def finish(self) -> None:
        if self.failures:
            distinct: dict[str, Failed] = {}
            for failure in self.failures:  # the same message from many cases is one failure
                distinct.setdefault(failure.message, failure)
            first, *rest = distinct.values()
            first.more = rest
            raise first
        if self.blocked is not None:
            raise self.blocked
