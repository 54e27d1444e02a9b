"""Mifumo SMS billing history: what the schema cannot say about DRF page-number pagination, links,
filters, order, values and the DRF/simplejwt error bodies."""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from billing_contract import facts, rules, to_json_schema
from conformance.checks.common import (
    check_page_shape,
    ensure_body_matches,
    ensure_rules,
    ensure_status,
)
from conformance.context import CheckContext
from conformance.http import Exchange
from conformance.outcome import Cases, Skipped, ensure
from conformance.registry import check
from conformance.walks import (
    Page,
    Walk,
    choose_page_size,
    ensure_filter_holds,
    ensure_retraced,
    ensure_sorted,
    ensure_walk_integrity,
    full_walk,
)

OPERATION = facts.GET_HISTORY
# Query parameters that no version of the contract defines; DRF ignores them and keeps them in links.
PROBE_PARAM = ("conformance_probe", "1")


def _path(ctx: CheckContext) -> str:
    return ctx.path(OPERATION)


def _page_size_max(ctx: CheckContext) -> int:
    return int(ctx.spec.documented_integer(OPERATION, "page_size")["maximum"])


def _page_size_default(ctx: CheckContext) -> int:
    return int(ctx.spec.documented_integer(OPERATION, "page_size")["default"])


def _types(ctx: CheckContext) -> list[str]:
    return list(ctx.spec.schema("BillingRecordType")["enum"])


def _count(ctx: CheckContext, **params: Any) -> int:
    """`count` with these filters, from a page of 1 (unfiltered: from page 1, which every run reads anyway)."""
    key = ("count", tuple(sorted(params.items())))
    query = {**params, "page_size": 1} if params else None
    return ctx.cached(key, lambda: int(ctx.page(_path(ctx), query).body["count"]))


def _key(item: dict[str, Any]) -> Any:
    return item.get("id")


def _walk(ctx: CheckContext) -> tuple[Walk, int, int]:
    """The whole unfiltered collection in about five pages: (walk, page size, count on page 1)."""

    def compute() -> tuple[Walk, int, int]:
        total = _count(ctx)
        if total < 2:
            raise Skipped(f"the collection holds {total} record(s); at least 2 are needed for 2 pages")
        size = choose_page_size(total, _page_size_max(ctx))
        first = ctx.page(_path(ctx), {"page_size": size})
        return full_walk(ctx, first, ctx.config.max_pages), size, int(first.body["count"])

    return ctx.cached("walk", compute)


@check(OPERATION, reports_page_shape=True)
def mifumo_page_shape(ctx: CheckContext) -> None:
    """Page 1 is a 200 whose body matches the documented page schema (every schema error reported)."""
    check_page_shape(ctx, OPERATION)


@check(OPERATION)
def mifumo_pagination_integrity(ctx: CheckContext) -> None:
    """Following `next` visits every record once, pages are full but the last, and the total is `count`."""
    result, size, count = _walk(ctx)
    cases = Cases()
    with cases.case():
        ensure_walk_integrity(result, size, _key)
    with cases.case():
        seen = len(result.items())
        ensure(
            seen == count,
            "walking every page should yield exactly `count` records",
            count,
            seen,
            result.pages[-1].exchange,
        )
    for page in result.pages:
        with cases.case():
            ensure(
                page.body.get("count") == count,
                "`count` should be the same on every page",
                count,
                page.body.get("count"),
                page.exchange,
            )
    cases.finish()


@check(OPERATION)
def mifumo_previous_retraces(ctx: CheckContext) -> None:
    """Following `previous` from the last page shows the same pages in reverse and ends at page 1."""
    result, _, _ = _walk(ctx)
    ensure_retraced(ctx, result, _key, ctx.config.max_pages)


def _created_at(item: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(item["created_at"]).replace("Z", "+00:00")).timestamp()


@check(OPERATION)
def mifumo_order(ctx: CheckContext) -> None:
    """Records are ordered by `created_at` descending, ties by `id` ascending, across page boundaries."""
    result, _, _ = _walk(ctx)
    ensure_sorted(result, lambda item: (-_created_at(item), str(item["id"])), "created_at desc, id asc")


def _ensure_amount(record: dict[str, Any], page: Page) -> None:
    amount = record.get("amount")
    # Any JSON form of a number is one (`50`, `50.0`, `5e1`): read as Decimal, its digits as sent.
    ensure(isinstance(amount, Decimal), "`amount` should be a JSON number", "a number", amount, page.exchange)
    assert isinstance(amount, Decimal)
    exponent = amount.normalize().as_tuple().exponent  # 50.000 has no more decimals than 50
    ensure(
        isinstance(exponent, int) and exponent >= -2,
        "`amount` should have at most 2 decimals",
        "2 decimals",
        f"{record.get('id')}: {amount}",
        page.exchange,
    )
    if record.get("type") == "usage":
        ensure(amount < 0, "a usage amount should be negative", "< 0", f"{record.get('id')}: {amount}", page.exchange)
    else:
        ensure(
            amount > 0,
            f"a {record.get('type')} amount should be positive",
            "> 0",
            f"{record.get('id')}: {amount}",
            page.exchange,
        )


def _ensure_created_at(record: dict[str, Any], page: Page, pattern: str) -> None:
    created = str(record.get("created_at"))
    ensure(
        re.match(pattern, created) is not None,
        "`created_at` should be RFC 3339 with an offset (`Z` or ±hh:mm), as the contract's pattern says",
        pattern,
        f"{record.get('id')}: {created}",
        page.exchange,
    )
    try:
        datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        ensure(False, "`created_at` should be a real date and time", "a valid timestamp", created, page.exchange)


@check(OPERATION)
def mifumo_values(ctx: CheckContext) -> None:
    """Usage amounts negative, purchases and payments positive, at most 2 decimals in any JSON form of a
    number; `created_at` RFC 3339 with an offset."""
    result, _, _ = _walk(ctx)
    pattern = ctx.spec.schema("BillingRecord")["properties"]["created_at"]["pattern"]
    cases = Cases()
    for page in result.pages:
        # Decimal keeps the digits as sent, so `50.123` cannot hide behind float rounding.
        body = json.loads(page.exchange.text, parse_float=Decimal, parse_int=Decimal)
        for record in body.get("results") or []:
            with cases.case():
                _ensure_amount(record, page)
            with cases.case():
                _ensure_created_at(record, page, pattern)
    cases.finish()


@check(OPERATION)
def mifumo_link_form(ctx: CheckContext) -> None:
    """`next`/`previous` are absolute URIs on the request's host, keep other params; page 1 has no `page`."""
    kind = next((t for t in _types(ctx) if _count(ctx, type=t) >= 3), None)
    if kind is None and _count(ctx) < 3:
        raise Skipped("fewer than 3 records: page 2 of size 1 needs both a next and a previous page")
    params = {"page_size": "1", PROBE_PARAM[0]: PROBE_PARAM[1], **({"type": kind} if kind else {})}
    page = ctx.page(_path(ctx), {**params, "page": "2"})
    ensure_rules(page.exchange, rules.mifumo_links(page.exchange, (_page_size_default(ctx), _page_size_max(ctx))))


def _not_of(kind: str) -> Any:
    def mismatch(record: dict[str, Any]) -> str | None:
        return None if record.get("type") == kind else f"`type={kind}` gave {record.get('id')}: {record.get('type')}"

    return mismatch


@check(OPERATION)
def mifumo_filter_matches(ctx: CheckContext) -> None:
    """With `type=<t>`, walked in small pages through every `next` and back through every `previous`: every
    record is of type `t`, each comes once, and there are `count` of them."""
    kinds = [t for t in _types(ctx) if _count(ctx, type=t) > 0]
    if not kinds:
        raise Skipped("no record of any type: the filter matches nothing to inspect")
    cases = Cases()
    for kind in kinds:
        with cases.case():
            total = _count(ctx, type=kind)
            size = choose_page_size(total, _page_size_max(ctx), pages=3)
            first = ctx.page(_path(ctx), {"type": kind, "page_size": size})
            ensure_filter_holds(ctx, first, _not_of(kind), total, _key, ctx.config.max_pages)
    cases.finish()


@check(OPERATION)
def mifumo_filter_counts(ctx: CheckContext) -> None:
    """The per-type counts add up to the unfiltered count."""
    total = _count(ctx)
    if total == 0:
        raise Skipped("the collection is empty: nothing to add up")
    per_type = {t: _count(ctx, type=t) for t in _types(ctx)}
    # The exchange to show: the last per-type count's page (a GET the run already sent, answered again
    # from the run's own answers: the counts may have been fetched by another check).
    shown = ctx.page(_path(ctx), {"type": _types(ctx)[-1], "page_size": 1}).exchange
    ensure(
        sum(per_type.values()) == total,
        "the counts per `type` should add up to the unfiltered `count`",
        total,
        " + ".join(f"{kind} {n}" for kind, n in per_type.items()) + f" = {sum(per_type.values())}",
        shown,
    )


# -- errors ------------------------------------------------------------------------------------------


def _www_authenticate(ctx: CheckContext) -> str:
    return ctx.spec.response_header_enum(OPERATION, 401, "WWW-Authenticate")[0]


def _ensure_401(
    ctx: CheckContext,
    headers: dict[str, str],
    schema_name: str | None,
    why: str,
    params: dict[str, Any] | None = None,
) -> None:
    """A 401 with the DRF challenge and the body `schema_name` names (None: either documented 401 body)."""
    exchange = ctx.client.get(_path(ctx), params, headers=headers, replace_headers=True)
    ensure_status(exchange, 401, why)
    challenge = _www_authenticate(ctx)
    ensure(
        exchange.header("WWW-Authenticate") == challenge,
        f"{why}: the 401 should carry the DRF challenge",
        f"WWW-Authenticate: {challenge}",
        f"WWW-Authenticate: {exchange.header('WWW-Authenticate')}",
        exchange,
    )
    schema = ctx.spec.json_schema(schema_name) if schema_name else _any_401_body(ctx)
    ensure_body_matches(exchange, schema, f"{why}: body")


def _any_401_body(ctx: CheckContext) -> dict[str, Any]:
    schema = ctx.spec.response(OPERATION, 401)["content"]["application/json"]["schema"]
    return to_json_schema(schema)


@check(OPERATION)
def mifumo_auth_errors(ctx: CheckContext) -> None:
    """Missing, non-Bearer and invalid credentials get 401, the challenge, DRF/simplejwt bodies."""
    token = ctx.config.bearer_token
    bad = {"Authorization": f"Bearer {token}x"}
    cases = Cases()
    for headers, schema, why, params in (
        ({}, "DrfNotAuthenticated", "no Authorization header", None),
        # The spec groups a non-Bearer header with missing credentials but does not pair it with one body.
        ({"Authorization": f"Token {token}"}, None, "a non-Bearer scheme", None),
        # simplejwt: a Bearer header must be the scheme and exactly one token.
        ({"Authorization": "Bearer"}, "SimpleJwtBadAuthorizationHeader", "`Bearer` without a token", None),
        (bad, "SimpleJwtTokenNotValid", "an invalid token", None),
        # Authentication comes before validation: a bad token with a bad parameter is still a 401.
        (bad, "SimpleJwtTokenNotValid", "an invalid token with a bad page_size", {"page_size": "0"}),
    ):
        with cases.case():
            _ensure_401(ctx, headers, schema, why, params)
    cases.finish()


def _ensure_field_errors(
    ctx: CheckContext, params: dict[str, Any], fields: set[str], also: set[str], exchange: Exchange | None = None
) -> None:
    """A 400 in DRF's field-error map naming every field of `fields`, and nothing beyond `fields | also`."""
    exchange = exchange or ctx.client.get(_path(ctx), params)
    why = f"?{urlencode(params)} should be rejected field by field"
    ensure_status(exchange, 400, why)
    body = ensure_body_matches(exchange, ctx.spec.json_schema("DrfFieldErrors"), why)
    ensure(
        fields <= set(body) <= fields | also,
        f"{why}: every bad field is reported, and no good one",
        sorted(fields) if not also else f"{sorted(fields)}, perhaps with {sorted(also)}",
        sorted(body),
        exchange,
    )


@check(OPERATION)
def mifumo_param_errors(ctx: CheckContext) -> None:
    """A `type` outside the documented choices gets 400, DRF's field errors naming `type`, before the page
    number is looked at (and beside a `page_size` a backend may also name)."""
    bad_type = "refund"
    assert bad_type not in _types(ctx)
    too_big = _page_size_max(ctx) + 1
    cases = Cases()
    for params, fields, also in (
        ({"type": bad_type}, {"type"}, set()),
        ({"type": bad_type, "page_size": too_big}, {"type"}, {"page_size"}),
        # The filter comes before the page number.
        ({"type": bad_type, "page": "0"}, {"type"}, set()),
    ):
        with cases.case():
            _ensure_field_errors(ctx, params, fields, also)
    cases.finish()


def _ensure_page_size_served(ctx: CheckContext, value: Any, served: int) -> None:
    """`page_size=value` is served as `served` records a page (DRF), or refused naming `page_size`."""
    exchange = ctx.client.get(_path(ctx), {"page_size": value})
    if exchange.status == 400:
        _ensure_field_errors(ctx, {"page_size": value}, {"page_size"}, set(), exchange)
        return
    why = f"page_size={value!r} should be served as {served} a page (or refused with 400 naming `page_size`)"
    ensure_status(exchange, 200, why)
    page = ctx.page_of(exchange)
    total = _count(ctx)
    ensure(
        page.body.get("count") == total and len(page.items()) == min(served, total),
        why,
        f"count {total}, {min(served, total)} record(s)",
        f"count {page.body.get('count')}, {len(page.items())} record(s)",
        exchange,
    )


@check(OPERATION)
def mifumo_page_size(ctx: CheckContext) -> None:
    """`page_size` as DRF's `PageNumberPagination` reads it: above the maximum served as the maximum (no page
    ever holds more); 0, negative, empty or not an integer served as the default; or any of them refused
    with a 400 naming `page_size`. `count` stays right either way."""
    most, default = _page_size_max(ctx), _page_size_default(ctx)
    cases = Cases()
    for value, served in ((most + 1, most), (0, default), (-1, default), ("", default), ("abc", default)):
        with cases.case():
            _ensure_page_size_served(ctx, value, served)
    cases.finish()


def _ensure_invalid_page(ctx: CheckContext, page: str, size: int) -> None:
    exchange = ctx.client.get(_path(ctx), {"page": page, "page_size": size})
    ensure_status(exchange, 404, f"page={page} should be an invalid page")
    ensure_body_matches(exchange, ctx.spec.json_schema("DrfInvalidPage"), f"page={page}: DRF's invalid-page body")


@check(OPERATION)
def mifumo_invalid_page(ctx: CheckContext) -> None:
    """`page` 0, negative, non-integer or past the last answers 404 `{"detail": "Invalid page."}`."""
    size = _page_size_default(ctx)
    cases = Cases()
    # These need no page of the collection: they are tested even when its pages cannot be read.
    for page in ("0", "-1", "abc"):
        with cases.case():
            _ensure_invalid_page(ctx, page, size)
    with cases.case():  # DRF reads an empty page as page 1
        first, empty = (ctx.client.get(_path(ctx), page) for page in ({}, {"page": ""}))
        ensure_status(empty, 200, "`page=` (empty) should be page 1")
        ensure(
            rules.body_of(empty)[1] == rules.body_of(first)[1],
            "`page=` (empty) should be page 1",
            rules.shown(first.text),
            rules.shown(empty.text),
            empty,
        )
    with cases.case():
        last = max(1, -(-_count(ctx) // size))
        _ensure_invalid_page(ctx, str(last + 1), size)
        ensure_status(
            ctx.client.get(_path(ctx), {"page": str(last), "page_size": size}),
            200,
            f"the last page ({last}) should be served",
        )
    cases.finish()


@check(OPERATION)
def mifumo_unknown_params_ignored(ctx: CheckContext) -> None:
    """An unknown query parameter changes nothing in the page's records or count."""
    plain = ctx.page(_path(ctx))
    if not plain.items():
        raise Skipped("the collection is empty: there are no records to compare")
    probed = ctx.page(_path(ctx), {PROBE_PARAM[0]: PROBE_PARAM[1]})
    ensure(
        (plain.body.get("count"), plain.items()) == (probed.body.get("count"), probed.items()),
        "an unknown query parameter should be ignored",
        plain.exchange.text[:200],
        probed.exchange.text[:200],
        probed.exchange,
    )
