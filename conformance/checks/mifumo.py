"""Mifumo SMS billing history: what the schema cannot say about DRF page-number pagination, links,
filters, order, values and the DRF/simplejwt error bodies."""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

from billing_contract import MIFUMO, facts
from conformance.checks.common import GET_HISTORY, ensure_body_matches, ensure_status
from conformance.context import CheckContext
from conformance.pagination import (
    Page,
    Walk,
    choose_page_size,
    ensure_retraced,
    ensure_sorted,
    ensure_walk_integrity,
    fetch_page,
    full_walk,
)
from conformance.registry import Skipped, check, ensure

OPERATION = facts.GET_HISTORY
# Query parameters that no version of the contract defines; DRF ignores them and keeps them in links.
PROBE_PARAM = ("conformance_probe", "1")


def _path(ctx: CheckContext) -> str:
    return ctx.path(OPERATION)


def _page_size_max(ctx: CheckContext) -> int:
    return int(ctx.parameter_schema(OPERATION, "page_size")["maximum"])


def _types(ctx: CheckContext) -> list[str]:
    return list(ctx.spec.schema("BillingRecordType")["enum"])


def _count(ctx: CheckContext, **params: Any) -> int:
    key = ("count", tuple(sorted(params.items())))
    return ctx.cached(key, lambda: int(fetch_page(ctx.client, _path(ctx), {**params, "page_size": 1}).body["count"]))


def _key(item: dict[str, Any]) -> Any:
    return item.get("id")


def _walk(ctx: CheckContext) -> tuple[Walk, int, int]:
    """The whole unfiltered collection in about five pages: (walk, page size, count on page 1)."""

    def compute() -> tuple[Walk, int, int]:
        total = _count(ctx)
        if total < 2:
            raise Skipped(f"the collection holds {total} record(s); at least 2 are needed for 2 pages")
        size = choose_page_size(total, _page_size_max(ctx))
        first = fetch_page(ctx.client, _path(ctx), {"page_size": size})
        return full_walk(ctx.client, first, ctx.config.max_pages), size, int(first.body["count"])

    return ctx.cached("walk", compute)


@check(MIFUMO, GET_HISTORY)
def mifumo_pagination_integrity(ctx: CheckContext) -> None:
    """Following `next` visits every record once, pages are full but the last, and the total is `count`."""
    result, size, count = _walk(ctx)
    ensure_walk_integrity(result, size, _key)
    seen = len(result.items())
    ensure(
        seen == count,
        "walking every page should yield exactly `count` records",
        count,
        seen,
        result.pages[-1].exchange,
    )
    for page in result.pages:
        ensure(
            page.body.get("count") == count,
            "`count` should be the same on every page",
            count,
            repr(page.body.get("count")),
            page.exchange,
        )


@check(MIFUMO, GET_HISTORY)
def mifumo_previous_retraces(ctx: CheckContext) -> None:
    """Following `previous` from the last page shows the same pages in reverse and ends at page 1."""
    result, _, _ = _walk(ctx)
    ensure_retraced(ctx.client, result, _key, ctx.config.max_pages)


def _created_at(item: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(item["created_at"]).replace("Z", "+00:00")).timestamp()


@check(MIFUMO, GET_HISTORY)
def mifumo_order(ctx: CheckContext) -> None:
    """Records are ordered by `created_at` descending, ties by `id` ascending, across page boundaries."""
    result, _, _ = _walk(ctx)
    ensure_sorted(result, lambda item: (-_created_at(item), str(item["id"])), "created_at desc, id asc")


RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")


def _ensure_record_values(record: dict[str, Any], page: Page) -> None:
    amount = record.get("amount")
    ensure(isinstance(amount, Decimal), "`amount` should be a JSON number", "a number", amount, page.exchange)
    assert isinstance(amount, Decimal)
    ensure(
        amount.as_tuple().exponent >= -2,
        "`amount` should have at most 2 decimals",  # type: ignore[operator]
        "2 decimals",
        f"{record['id']}: {amount}",
        page.exchange,
    )
    if record.get("type") == "usage":
        ensure(amount < 0, "a usage amount should be negative", "< 0", f"{record['id']}: {amount}", page.exchange)
    else:
        ensure(
            amount > 0,
            f"a {record.get('type')} amount should be positive",
            "> 0",
            f"{record['id']}: {amount}",
            page.exchange,
        )
    created = str(record.get("created_at"))
    ensure(
        bool(RFC3339_UTC.match(created)),
        "`created_at` should be RFC 3339 in UTC with a `Z`",
        "YYYY-MM-DDThh:mm:ss[.ffffff]Z",
        f"{record['id']}: {created}",
        page.exchange,
    )
    try:
        datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        ensure(False, "`created_at` should be a real date and time", "a valid timestamp", created, page.exchange)


@check(MIFUMO, GET_HISTORY)
def mifumo_values(ctx: CheckContext) -> None:
    """Usage amounts negative, purchases and payments positive, 2 decimals; `created_at` RFC 3339 UTC."""
    result, _, _ = _walk(ctx)
    for page in result.pages:
        # Decimal keeps the digits as sent, so `50.123` cannot hide behind float rounding.
        body = json.loads(page.exchange.text, parse_float=Decimal)
        for record in body.get("results") or []:
            _ensure_record_values(record, page)


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


@check(MIFUMO, GET_HISTORY)
def mifumo_link_form(ctx: CheckContext) -> None:
    """`next`/`previous` are absolute URIs on the request's host, keep other params; page 1 has no `page`."""
    kind = next((t for t in _types(ctx) if _count(ctx, type=t) >= 3), None)
    if kind is None and _count(ctx) < 3:
        raise Skipped("fewer than 3 records: page 2 of size 1 needs both a next and a previous page")
    params = {"page_size": "1", PROBE_PARAM[0]: PROBE_PARAM[1], **({"type": kind} if kind else {})}
    page = fetch_page(ctx.client, _path(ctx), {**params, "page": "2"})
    requested = urlsplit(page.exchange.url)
    for name, page_number in (("next", "3"), ("previous", None)):
        link = page.link(name)
        ensure(isinstance(link, str), f"page 2 of 3+ should have a `{name}` link", "a URL", link, page.exchange)
        assert isinstance(link, str)
        parts = urlsplit(link)
        ensure(
            bool(parts.scheme and parts.netloc),
            f"`{name}` should be an absolute URI",
            f"{requested.scheme}://{requested.netloc}{requested.path}?...",
            link,
            page.exchange,
        )
        ensure(
            (parts.scheme, parts.netloc, parts.path) == (requested.scheme, requested.netloc, requested.path),
            f"`{name}` should use the request's own scheme, host and path",
            f"{requested.scheme}://{requested.netloc}{requested.path}",
            link,
            page.exchange,
        )
        want = {key: [value] for key, value in params.items()}
        if page_number is not None:
            want["page"] = [page_number]
        ensure(
            _query(link) == want,
            f"`{name}` should keep every other query parameter"
            + ("" if page_number else " and drop `page` for page 1"),
            want,
            _query(link),
            page.exchange,
        )


@check(MIFUMO, GET_HISTORY)
def mifumo_filter_matches(ctx: CheckContext) -> None:
    """With `type=<t>`, every record on every page is of type `t`."""
    kinds = [t for t in _types(ctx) if _count(ctx, type=t) > 0]
    if not kinds:
        raise Skipped("no record of any type: the filter matches nothing to inspect")
    for kind in kinds:
        first = fetch_page(ctx.client, _path(ctx), {"type": kind, "page_size": _page_size_max(ctx)})
        for page in full_walk(ctx.client, first, ctx.config.max_pages).pages:
            for record in page.items():
                ensure(
                    record.get("type") == kind,
                    f"`type={kind}` should return only {kind} records",
                    kind,
                    f"{record.get('id')}: {record.get('type')}",
                    page.exchange,
                )


@check(MIFUMO, GET_HISTORY)
def mifumo_filter_counts(ctx: CheckContext) -> None:
    """The per-type counts add up to the unfiltered count."""
    total = _count(ctx)
    if total == 0:
        raise Skipped("the collection is empty: nothing to add up")
    per_type = {t: _count(ctx, type=t) for t in _types(ctx)}
    ensure(
        sum(per_type.values()) == total,
        "the counts per `type` should add up to the unfiltered `count`",
        total,
        f"{per_type} = {sum(per_type.values())}",
        ctx.client.last,
    )


# -- errors ------------------------------------------------------------------------------------------


def _www_authenticate(ctx: CheckContext) -> str:
    return ctx.spec.response_header_enum(OPERATION, 401, "WWW-Authenticate")[0]


def _ensure_401(
    ctx: CheckContext,
    headers: dict[str, str],
    schema_name: str,
    why: str,
    params: dict[str, Any] | None = None,
) -> None:
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
    ensure_body_matches(ctx.spec, exchange, ctx.spec.json_schema(schema_name), f"{why}: body")


@check(MIFUMO, GET_HISTORY)
def mifumo_auth_errors(ctx: CheckContext) -> None:
    """Missing, non-Bearer and invalid credentials get 401, the challenge, DRF/simplejwt bodies."""
    token = ctx.config.bearer_token
    _ensure_401(ctx, {}, "DrfNotAuthenticated", "no Authorization header")
    _ensure_401(ctx, {"Authorization": f"Token {token}"}, "DrfNotAuthenticated", "a non-Bearer scheme")
    _ensure_401(ctx, {"Authorization": f"Bearer {token}x"}, "SimpleJwtTokenNotValid", "an invalid token")
    # Authentication comes before validation: a bad token with a bad parameter is still a 401.
    _ensure_401(
        ctx,
        {"Authorization": f"Bearer {token}x"},
        "SimpleJwtTokenNotValid",
        "an invalid token with a bad page_size",
        {"page_size": "0"},
    )


def _ensure_field_errors(ctx: CheckContext, params: dict[str, Any], fields: set[str]) -> None:
    exchange = ctx.client.get(_path(ctx), params)
    why = f"{params} should be rejected field by field"
    ensure_status(exchange, 400, why)
    body = ensure_body_matches(ctx.spec, exchange, ctx.spec.json_schema("DrfFieldErrors"), why)
    ensure(
        set(body) == fields,
        f"{why}: every bad field, and only those, is reported",
        sorted(fields),
        sorted(body),
        exchange,
    )


@check(MIFUMO, GET_HISTORY)
def mifumo_param_errors(ctx: CheckContext) -> None:
    """Bad `page_size` (never clamped) and `type` get 400: DRF field errors, all bad fields at once."""
    bounds = ctx.parameter_schema(OPERATION, "page_size")
    bad_type = "refund"
    assert bad_type not in _types(ctx)
    for value in (bounds["maximum"] + 1, bounds["minimum"] - 1, "abc"):
        _ensure_field_errors(ctx, {"page_size": value}, {"page_size"})
    _ensure_field_errors(ctx, {"type": bad_type}, {"type"})
    _ensure_field_errors(ctx, {"type": bad_type, "page_size": bounds["maximum"] + 1}, {"type", "page_size"})
    # Validation comes before the page number.
    _ensure_field_errors(ctx, {"page_size": bounds["maximum"] + 1, "page": "0"}, {"page_size"})


@check(MIFUMO, GET_HISTORY)
def mifumo_invalid_page(ctx: CheckContext) -> None:
    """`page` 0, negative, non-integer or past the last answers 404 `{"detail": "Invalid page."}`."""
    detail = ctx.spec.schema("DrfInvalidPage")["properties"]["detail"]["enum"][0]
    size = 20
    last = max(1, -(-_count(ctx) // size))
    for page in ("0", "-1", "abc", str(last + 1)):
        exchange = ctx.client.get(_path(ctx), {"page": page, "page_size": size})
        ensure_status(exchange, 404, f"page={page} should be an invalid page")
        ensure(
            exchange.json() == {"detail": detail},
            f"page={page}: DRF's invalid-page body",
            {"detail": detail},
            exchange.text[:300],
            exchange,
        )
    ensure_status(
        ctx.client.get(_path(ctx), {"page": str(last), "page_size": size}),
        200,
        f"the last page ({last}) should be served",
    )


@check(MIFUMO, GET_HISTORY)
def mifumo_unknown_params_ignored(ctx: CheckContext) -> None:
    """An unknown query parameter changes nothing in the page's records or count."""
    plain = fetch_page(ctx.client, _path(ctx), {"page_size": 5})
    probed = fetch_page(ctx.client, _path(ctx), {"page_size": 5, PROBE_PARAM[0]: PROBE_PARAM[1]})
    ensure(
        (plain.body.get("count"), plain.items()) == (probed.body.get("count"), probed.items()),
        "an unknown query parameter should be ignored",
        plain.exchange.text[:200],
        probed.exchange.text[:200],
        probed.exchange,
    )
