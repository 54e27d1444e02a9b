"""One profile per API: everything code needs to tell the two APIs apart, in one place.

What the spec states is read from it (each API's operations, by the tag they carry; their labels; the
status its credentials check answers); what the spec cannot state about itself is named here once (which
tag is which API, the collection the walks start from, the pagination style, the framework, the error
envelope, the rules its exchanges are held to, its section of a fixtures file). Code asks the profile
instead of branching on the API's name: a third API is one more entry in `PROFILES`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from billing_contract import rules
from billing_contract.facts import (
    GET_HISTORY,
    GET_STATEMENT,
    LIST_STATEMENTS,
    MIFUMO,
    TAGS,
    WEPAY,
    ApiFacts,
)
from billing_contract.rules import ExchangeLike, Violation
from billing_contract.spec import Spec

PAGE_NUMBER = "page-number"  # DRF's PageNumberPagination: absolute links, `count`, numbered pages
CURSOR = "cursor"  # opaque cursors in relative links
DRF = "django-rest-framework"  # the framework whose behaviour is the contract where the docs are silent

ResponseRules = Callable[[Spec, str, ExchangeLike], list[Violation]]
# The headers a client sends to be let in: from the spec's facts and the caller's values (bearer_token,
# app_id, app_token, api_version).
RequestHeaders = Callable[[ApiFacts, Mapping[str, str | None]], dict[str, str]]


def _bearer_headers(facts: ApiFacts, given: Mapping[str, str | None]) -> dict[str, str]:
    return {"Authorization": f"{facts.bearer_scheme} {given.get('bearer_token') or ''}"}


def _app_key_headers(facts: ApiFacts, given: Mapping[str, str | None]) -> dict[str, str]:
    app_id, app_token = facts.credential_headers
    version = given.get("api_version") or facts.default_api_version
    return {app_id: given.get("app_id") or "", app_token: given.get("app_token") or "", facts.version_header: version}


def _mifumo_rules(spec: Spec, operation_id: str, exchange: ExchangeLike) -> list[Violation]:
    size = rules.page_size_bounds(spec, operation_id)
    return rules.mifumo_links(exchange, size) if size else []


def _wepay_rules(spec: Spec, operation_id: str, exchange: ExchangeLike) -> list[Violation]:
    version = rules.wepay_api_version_echo(exchange, spec.facts.version_header)
    return [*rules.wepay_links(exchange), *version, *rules.wepay_correlation_id(exchange)]


@dataclass(frozen=True)
class ApiProfile:
    api: str  # the name the suite, the reports and a fixtures file use ("mifumo")
    collection: str  # the list operation: walks, the preflight and recording start from it
    item: str | None  # the operation answering one item of the collection by id, if any
    pagination: str  # PAGE_NUMBER or CURSOR
    framework: str | None  # DRF: the framework's behaviour is the contract where the docs are silent
    error_schema: str  # the body of an error the operation does not document (405, 502, ...)
    error_words: str  # that body, in words
    page_unreadable: Callable[[Any], list[str]]  # why a body cannot be read as a page at all
    response_rules: ResponseRules  # the API's own single-exchange rules (beyond status and schema)
    rule_names: tuple[str, ...]  # the names the violations of all its rules carry
    request_headers: RequestHeaders  # its credentials (and required headers) as a client sends them
    items: str  # its section of a fixtures file: (section, key, schema) = (api, items, item_schema)
    item_schema: str

    @property
    def tag(self) -> str:
        return TAGS[self.api]

    def operations(self, spec: Spec) -> tuple[str, ...]:
        """The API's operations, as the spec tags them, in the spec's order."""
        return tuple(op_id for op_id, op in spec.operations.items() if op.tag == self.tag)

    def credentials_status(self, spec: Spec) -> int:
        """The status the API's credentials check answers: the one of 401/403 its collection documents."""
        return next(s for s in (401, 403) if s in spec.operations[self.collection].statuses)


COMMON_RULES = ("status", "schema", "error-envelope")

PROFILES: dict[str, ApiProfile] = {
    MIFUMO: ApiProfile(
        api=MIFUMO,
        collection=GET_HISTORY,
        item=None,
        pagination=PAGE_NUMBER,
        framework=DRF,
        error_schema="DrfDetail",
        error_words='DRF\'s `{"detail": ...}`',
        page_unreadable=rules.mifumo_page_unreadable,
        response_rules=_mifumo_rules,
        rule_names=(*COMMON_RULES, "mifumo-links", "mifumo-count"),
        request_headers=_bearer_headers,
        items="records",
        item_schema="BillingRecord",
    ),
    WEPAY: ApiProfile(
        api=WEPAY,
        collection=LIST_STATEMENTS,
        item=GET_STATEMENT,
        pagination=CURSOR,
        framework=None,
        error_schema="V3Error",
        error_words="the v3 error envelope",
        page_unreadable=rules.wepay_page_unreadable,
        response_rules=_wepay_rules,
        rule_names=(*COMMON_RULES, "wepay-links", "wepay-api-version", "wepay-correlation-id"),
        request_headers=_app_key_headers,
        items="statements",
        item_schema="BillingStatement",
    ),
}


def of_tag(tag: str | None) -> ApiProfile | None:
    return next((p for p in PROFILES.values() if p.tag == tag), None)


@functools.lru_cache(maxsize=16)
def of_operation(spec: Spec, operation_id: str) -> ApiProfile:
    profile = of_tag(spec.operations[operation_id].tag)
    if profile is None:
        raise KeyError(
            f"operation {operation_id!r} belongs to no API profile (tag {spec.operations[operation_id].tag!r})"
        )
    return profile


def check_exchange(spec: Spec, operation_id: str, exchange: ExchangeLike) -> list[Violation]:
    """Every rule that this one exchange can show (the profile's `rule_names`), for its operation."""
    profile = of_operation(spec, operation_id)
    found = rules.documented_status(spec, operation_id, exchange) or rules.body_matches(spec, operation_id, exchange)
    if exchange.status >= 400 and exchange.status not in spec.operations[operation_id].statuses:
        found = [*found, *rules.error_envelope(spec, profile.error_schema, profile.error_words, exchange)]
    return [*found, *profile.response_rules(spec, operation_id, exchange)]
