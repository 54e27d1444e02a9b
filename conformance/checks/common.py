"""Helpers the checks of both APIs share: operation labels and body validation against the contract."""

from __future__ import annotations

from typing import Any

import jsonschema

from billing_contract.spec import Spec
from conformance.http import Exchange
from conformance.registry import ensure

# Labels as Schemathesis prints them, so both kinds of checks share a report row per operation.
GET_HISTORY = "GET /api/billing/history/"
LIST_STATEMENTS = "GET /billing_statements"
GET_STATEMENT = "GET /billing_statements/{id}"


def ensure_status(exchange: Exchange, status: int, why: str) -> None:
    ensure(exchange.status == status, why, f"HTTP {status}", exchange.summary(), exchange)


def ensure_body_matches(spec: Spec, exchange: Exchange, schema: dict[str, Any], why: str) -> Any:
    body = exchange.json()
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(body))
    ensure(
        not errors,
        why,
        "a body matching the documented schema",
        f"{exchange.text[:300]} ({errors[0].message if errors else ''})",
        exchange,
    )
    return body
