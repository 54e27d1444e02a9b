"""Every check the suite can run, by name: Schemathesis' (from its registry, on both APIs) and the
semantic ones (from this suite's registry). `--list-checks` prints it; `--exclude-check` is checked
against it, so a typo stops the run instead of excluding nothing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from billing_contract import APIS
from conformance.checks import checks_for
from conformance.schema_checks import ERROR_CHECK, EXPECTATIONS, registered_checks


@dataclass(frozen=True)
class CheckInfo:
    name: str
    apis: tuple[str, ...]
    kind: str  # "schema" (Schemathesis) or "semantic" (this suite's)
    description: str


def schema_checks() -> list[CheckInfo]:
    """Schemathesis' checks (each runs on every operation of both APIs), and the suite's row for the
    cases Schemathesis could not test at all."""
    names = [*registered_checks(), ERROR_CHECK]
    return [CheckInfo(name, APIS, "schema", EXPECTATIONS.get(name, "a Schemathesis check")) for name in names]


def semantic_checks() -> list[CheckInfo]:
    return [CheckInfo(c.name, (c.api,), "semantic", c.description) for api in APIS for c in checks_for(api)]


def all_checks() -> list[CheckInfo]:
    return [*schema_checks(), *semantic_checks()]


def unknown(names: Iterable[str]) -> list[str]:
    """The names no check has, sorted."""
    known = {check.name for check in all_checks()}
    return sorted(set(names) - known)


def render_catalog() -> str:
    checks = all_checks()
    width = max(len(check.name) for check in checks)
    api_width = max(len(",".join(check.apis)) for check in checks)
    lines = [f"{'check':<{width}}  {'api':<{api_width}}  {'kind':<8}  description"]
    for check in checks:
        apis = ",".join(check.apis)
        lines.append(f"{check.name:<{width}}  {apis:<{api_width}}  {check.kind:<8}  {check.description}")
    return "\n".join(lines)
