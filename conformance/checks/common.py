"""Helpers the checks of both APIs share: operation labels, statuses, bodies against the contract (through
`billing_contract.rules`), and the page-shape check both APIs have."""

from __future__ import annotations

from typing import Any

from billing_contract import rules
from conformance.context import CheckContext
from conformance.http import Exchange
from conformance.outcome import Blocked, Failed, ensure


def ensure_status(exchange: Exchange, status: int, why: str) -> None:
    ensure(exchange.status == status, why, f"HTTP {status}", exchange.summary(), exchange)


def ensure_body_matches(exchange: Exchange, schema: dict[str, Any], why: str) -> Any:
    """The body is JSON matching `schema`; a failure lists every schema error, not the first."""
    is_json, body = rules.body_of(exchange)
    errors = rules.schema_errors(schema, body) if is_json else ["the body is not JSON"]
    ensure(
        not errors,
        why,
        "a body matching the documented schema",
        f"{'; '.join(errors)} in {rules.shown(exchange.text)}",
        exchange,
    )
    return body


def ensure_rules(exchange: Exchange, violations: list[rules.Violation]) -> None:
    """Fail with the first violation a rule found in `exchange` (the others ride along as more findings)."""
    if not violations:
        return
    first, *rest = [Failed(v.message, v.expected, v.got, exchange) for v in violations]
    first.more = rest
    raise first


def check_page_shape(ctx: CheckContext, operation_id: str) -> None:
    """Page 1 of the collection, unfiltered: a 200 whose body matches the documented schema, every schema
    error listed (blocked instead when Schemathesis' schema check already reported that body). When the
    page cannot even be read, the checks that walk pages are blocked by the one reporting it: the
    context works that out from page 1 itself (`CheckContext.page_blocker`), whenever this check runs."""
    exchange = ctx.first_page()
    violations = [
        *rules.documented_status(ctx.spec, operation_id, exchange),
        *rules.body_matches(ctx.spec, operation_id, exchange),
    ]
    if exchange.status != 200 and not violations:
        violations = [
            rules.Violation("status", "page 1 of the collection should be served", "HTTP 200", exchange.summary())
        ]
    reporter = ctx.schema_reported_by() if violations else None
    if reporter:
        raise Blocked(reporter, "it already reports this page's body breaking the schema")
    ensure_rules(exchange, violations)
