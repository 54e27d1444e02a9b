"""WePay v3 billing statements: cursor pagination, cursor rules, filters, order, values, the statement
by id, `Api-Version` echo, `X-Correlation-Id` and the v3 error envelope."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from billing_contract import facts, rules
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
    Walk,
    choose_page_size,
    ensure_filter_holds,
    ensure_retraced,
    ensure_sorted,
    ensure_walk_integrity,
    full_walk,
)

LIST = facts.LIST_STATEMENTS
GET = facts.GET_STATEMENT
CURSOR = facts.CURSOR_PARAM
CURSOR_LINK = rules.CURSOR_LINK
QUERY, HEADER, PATH = "HTTP_REQUEST_QUERY_STRING", "HTTP_REQUEST_HEADER", "HTTP_REQUEST_PATH"


def _path(ctx: CheckContext) -> str:
    return ctx.path(LIST)


def _statement_path(ctx: CheckContext, ident: str) -> str:
    return ctx.path(GET).replace("{id}", ident)


def _page_size_schema(ctx: CheckContext) -> dict[str, Any]:
    return ctx.parameter_schema(LIST, "page_size")


def _key(item: dict[str, Any]) -> Any:
    return item.get("id")


def _everything(ctx: CheckContext, params: dict[str, Any] | None = None) -> Walk:
    """A filter's whole collection in the biggest pages allowed (usually one request)."""
    key = ("everything", tuple(sorted((params or {}).items())))

    def compute() -> Walk:
        first = ctx.page(_path(ctx), {**(params or {}), "page_size": _page_size_schema(ctx)["maximum"]})
        return full_walk(ctx, first, ctx.config.max_pages)

    return ctx.cached(key, compute)


def _walk_size(ctx: CheckContext) -> int:
    """The page size that walks the unfiltered collection in about five pages (at least 2 statements)."""
    total = len(_everything(ctx).items())
    if total < 2:
        raise Skipped(f"the collection holds {total} statement(s); at least 2 are needed for 2 pages")
    return choose_page_size(total, _page_size_schema(ctx)["maximum"])


def _walk(ctx: CheckContext) -> tuple[Walk, int]:
    """The unfiltered collection in about five pages, following `next` cursors: (walk, page size)."""

    def compute() -> tuple[Walk, int]:
        size = _walk_size(ctx)
        first = ctx.page(_path(ctx), {"page_size": size})
        return full_walk(ctx, first, ctx.config.max_pages), size

    return ctx.cached("walk", compute)


@check(LIST, reports_page_shape=True)
def wepay_page_shape(ctx: CheckContext) -> None:
    """The first page is a 200 whose body matches the documented page schema (every schema error reported)."""
    check_page_shape(ctx, LIST)


@check(LIST)
def wepay_pagination_integrity(ctx: CheckContext) -> None:
    """Following `next` cursors visits every statement once, in full pages, and no statement is missed."""
    result, size = _walk(ctx)
    cases = Cases()
    with cases.case():
        ensure_walk_integrity(result, size, _key)
    with cases.case():
        everything = _everything(ctx)
        walked, whole = [_key(i) for i in result.items()], [_key(i) for i in everything.items()]
        ensure(
            sorted(walked) == sorted(whole),
            "the pages together should hold exactly the whole collection",
            f"{len(whole)} statements",
            f"{len(walked)} statements, missing " + ", ".join(map(str, sorted(set(whole) - set(walked))[:5])),
            result.pages[-1].exchange,
        )
    cases.finish()


@check(LIST)
def wepay_default_page_size(ctx: CheckContext) -> None:
    """Without `page_size` a page holds the documented default number of statements."""
    default = int(ctx.spec.query_default(LIST, "page_size"))
    total = len(_everything(ctx).items())
    page = ctx.page(_path(ctx))
    ensure(
        len(page.items()) == min(default, total),
        "a page without `page_size` should hold the default size",
        min(default, total),
        len(page.items()),
        page.exchange,
    )


@check(LIST)
def wepay_previous_retraces(ctx: CheckContext) -> None:
    """Following `previous` from the last page shows the same pages in reverse and ends at the first."""
    result, _ = _walk(ctx)
    ensure_retraced(ctx, result, _key, ctx.config.max_pages)


@check(LIST)
def wepay_order(ctx: CheckContext) -> None:
    """Statements are ordered by `create_time` descending, ties by `id` ascending, across page boundaries."""
    result, _ = _walk(ctx)
    ensure_sorted(result, lambda item: (-int(item["create_time"]), str(item["id"])), "create_time desc, id asc")


def _two_page_start(ctx: CheckContext) -> Any:
    """A first page with a `next` cursor: the one the unfiltered walk starts from (the same request, sent
    once), read here on its own so that a check needing a cursor does not depend on the whole walk."""
    try:
        size = _walk_size(ctx)
    except Skipped:
        raise Skipped("fewer than 2 statements: no cursor is ever issued") from None
    first = ctx.page(_path(ctx), {"page_size": size})
    ensure(
        first.link("next") is not None,
        f"a page of {size} out of more statements should have a `next` link",
        "a link",
        None,
        first.exchange,
    )
    return first


@check(LIST)
def wepay_link_form(ctx: CheckContext) -> None:
    """`next`/`previous` are relative `/billing_statements?page=<cursor>` paths, or null at the ends."""
    first = _two_page_start(ctx)
    second = ctx.page(first.link("next"))
    ensure(
        second.link("previous") is not None,
        "the second page should have a `previous` link",
        "/billing_statements?page=<cursor>",
        None,
        second.exchange,
    )
    for page in (first, second):
        ensure_rules(page.exchange, rules.wepay_links(page.exchange))


def _cursor(link: str) -> str:
    match = CURSOR_LINK.match(link)
    return match.group(1) if match else link.rsplit("=", 1)[-1]


def _ensure_v3_error(
    ctx: CheckContext,
    exchange: Exchange,
    status: int,
    code: str,
    why: str,
    names: tuple[str, ...] = (),
    target_type: str | None = None,
    required: bool = True,
) -> None:
    """The status, the v3 envelope with this `error_code`, and (with `names`) the field at fault.

    The spec fixes the status, the envelope and `error_code`; of the details it states only that a
    detail's `target` names the fields at fault and `target_type` where they are. So a detail naming any
    of `names` (alone or with others, in any order) is enough; messages and reason codes are free text.
    Every detail naming one of them must give `target_type`. With `required=False` the details may name
    none of them (the spec does not say a field is at fault), but one that does must be right."""
    ensure_status(exchange, status, why)
    body = ensure_body_matches(exchange, ctx.spec.json_schema("V3Error"), f"{why}: v3 error envelope")
    ensure(body["error_code"] == code, f"{why}: error_code", code, body["error_code"], exchange)
    if not names:
        return
    naming = [d for d in body["details"] if set(d["target"]) & set(names)]
    found = [{"target": d["target"], "target_type": d["target_type"]} for d in body["details"]]
    ensure(
        bool(naming) or not required,
        f"{why}: the details should name the field at fault",
        f"a detail whose target names {' or '.join(names)}",
        found,
        exchange,
    )
    ensure(
        target_type is None or all(d["target_type"] == target_type for d in naming),
        f"{why}: the detail naming the field should say where it is",
        f"target_type {target_type}",
        found,
        exchange,
    )


def _ensure_invalid_params(
    exchange: Exchange, names: tuple[str, ...], target_type: str | None, why: str, ctx: CheckContext
) -> None:
    _ensure_v3_error(ctx, exchange, 400, "INVALID_PARAMS", why, names, target_type)


@check(LIST)
def wepay_cursor_exclusive(ctx: CheckContext) -> None:
    """A cursor with any of `page_size`, `account_id`, `currency` is rejected: 400 INVALID_PARAMS."""
    cursor = _cursor(_two_page_start(ctx).link("next"))
    names = [p["name"] for p in ctx.spec.parameters(LIST) if p["in"] == "query" and p["name"] != CURSOR]
    samples = {
        "page_size": "1",
        "currency": ctx.spec.query_default(LIST, "currency"),  # the cursor's own value: still refused
        "account_id": "acct",
    }
    cases = Cases()
    for name in names:
        with cases.case():
            exchange = ctx.client.get(_path(ctx), {CURSOR: cursor, name: samples.get(name, "x")})
            # Either parameter may be named at fault: the cursor, the other one, or both.
            _ensure_invalid_params(exchange, (CURSOR, name), QUERY, f"a cursor with `{name}`", ctx)
    cases.finish()


def _tampered(cursor: str) -> list[str]:
    """Altered cursors: one character changed in the middle, the cursor cut short, and a forged one.

    The change swaps a letter for a digit or a digit for a letter, so it alters the cursor whatever its
    encoding (hex read in any case, base64, ...). The last character is left alone: in base64 its low
    bits may be padding that a decoder ignores, so changing it need not alter the cursor at all."""

    def flip(text: str, index: int) -> str:
        char = text[index]
        other = ("3" if char != "3" else "5") if char.isalpha() else ("Q" if char != "Q" else "R")
        return text[:index] + other + text[index + 1 :]

    return [flip(cursor, len(cursor) // 2), cursor[:-4] or "x", "not-a-cursor"]


@check(LIST)
def wepay_cursor_tamper(ctx: CheckContext) -> None:
    """An altered or forged cursor is rejected with 400 INVALID_PARAMS."""
    cursor = _cursor(_two_page_start(ctx).link("next"))
    cases = Cases()
    for forged in _tampered(cursor):
        with cases.case():
            exchange = ctx.client.get(_path(ctx), {CURSOR: forged})
            _ensure_v3_error(ctx, exchange, 400, "INVALID_PARAMS", "an altered cursor", (CURSOR,), QUERY, False)
    cases.finish()


def _owner_id(item: dict[str, Any]) -> str | None:
    owner = item.get("owner")
    return owner.get("id") if isinstance(owner, dict) else None


def _filter_walked_small(ctx: CheckContext, params: dict[str, Any], mismatch: Any, total: int) -> None:
    """The filtered collection in small pages, through every `next` cursor and back through every `previous`:
    a cursor must carry the filter it was made with (one big page would never show one that forgets it)."""
    size = choose_page_size(total, _page_size_schema(ctx)["maximum"], pages=3)
    first = ctx.page(_path(ctx), {**params, "page_size": size})
    ensure_filter_holds(ctx, first, mismatch, total, _key, ctx.config.max_pages)


def _owned_by(owner: str) -> Any:
    def mismatch(item: dict[str, Any]) -> str | None:
        return None if _owner_id(item) == owner else f"{item.get('id')} owned by {_owner_id(item)}"

    return mismatch


@check(LIST)
def wepay_filter_account(ctx: CheckContext) -> None:
    """With `account_id`, only that account's statements, also on every page its cursors lead to (the
    largest account walked in small pages, forward and back); the accounts' collections add up to the whole."""
    everything = _everything(ctx).items()
    owners = sorted({o for o in map(_owner_id, everything) if o is not None})
    if not owners:
        raise Skipped("no statement has an owning account: the filter matches nothing to inspect")
    total = 0
    cases = Cases()
    largest = max(owners, key=lambda o: (sum(1 for item in everything if _owner_id(item) == o), o))
    with cases.case():
        held = sum(1 for item in everything if _owner_id(item) == largest)
        _filter_walked_small(ctx, {"account_id": largest}, _owned_by(largest), held)
    for owner in owners:
        walked = _everything(ctx, {"account_id": owner})
        for page in walked.pages:
            for item in page.items():
                with cases.case():
                    ensure(
                        _owner_id(item) == owner,
                        f"`account_id={owner}` should return only its statements",
                        owner,
                        f"{item.get('id')} owned by {_owner_id(item)}",
                        page.exchange,
                    )
        total += len(walked.items())
        shown = walked.pages[-1].exchange  # the walks may be another check's: show one of them, not `last`
    cases.finish()
    ownerless = sum(1 for item in everything if _owner_id(item) is None)
    ensure(
        total + ownerless == len(everything),
        "the accounts' collections should add up to the whole",
        len(everything),
        f"{total} owned + {ownerless} without owner",
        shown,
    )


def _in_currency(currency: str) -> Any:
    def mismatch(item: dict[str, Any]) -> str | None:
        return None if item.get("currency") == currency else f"{item.get('id')}: {item.get('currency')}"

    return mismatch


@check(LIST)
def wepay_filter_currency(ctx: CheckContext) -> None:
    """With `currency`, only statements in that currency, also on every page its cursors lead to (each
    non-empty currency walked in small pages, forward and back); the default currency's collection is the
    whole."""
    schema = ctx.parameter_schema(LIST, "currency")
    if not _everything(ctx).items():
        raise Skipped("the collection is empty: the filter matches nothing to inspect")
    matched = 0
    cases = Cases()
    for currency in schema["enum"]:
        held = len(_everything(ctx, {"currency": currency}).items())
        if held:
            with cases.case():
                _filter_walked_small(ctx, {"currency": currency}, _in_currency(currency), held)
        walked = _everything(ctx, {"currency": currency})
        for page in walked.pages:
            for item in page.items():
                with cases.case():
                    ensure(
                        item.get("currency") == currency,
                        f"`currency={currency}` should return only {currency}",
                        currency,
                        f"{item.get('id')}: {item.get('currency')}",
                        page.exchange,
                    )
        matched += len(walked.items())
        shown = walked.pages[-1].exchange  # the walks may be another check's: show one of them, not `last`
    cases.finish()
    whole = len(_everything(ctx).items())
    ensure(
        matched == whole,
        "the collections per currency should add up to the whole (default currency)",
        whole,
        matched,
        shown,
    )


def _ensure_statement_values(item: dict[str, Any], version: str, exchange: Exchange) -> None:
    ident = item.get("id")
    ensure(
        item.get("path") == f"/billing_statements/{ident}",
        "a statement's `path` is /billing_statements/{id}",
        f"/billing_statements/{ident}",
        item.get("path"),
        exchange,
    )
    owner = item.get("owner")
    if isinstance(owner, dict):
        ensure(
            owner.get("path") == f"/accounts/{owner.get('id')}",
            "an owner's `path` is /accounts/{owner.id}",
            f"/accounts/{owner.get('id')}",
            owner.get("path"),
            exchange,
        )
    ensure(
        item.get("api_version") == version,
        "a statement's `api_version` echoes Api-Version",
        version,
        item.get("api_version"),
        exchange,
    )


@check(LIST)
def wepay_values(ctx: CheckContext) -> None:
    """Each statement's `path` and owner `path` point at itself and its account."""
    result, _ = _walk(ctx)
    cases = Cases()
    for page in result.pages:
        for item in page.items():
            with cases.case():
                _ensure_statement_values(item, ctx.config.version, page.exchange)
    cases.finish()


@check(LIST)
def wepay_api_version_echo(ctx: CheckContext) -> None:
    """Every supported Api-Version is echoed in the page's and each statement's `api_version`."""
    header = ctx.spec.facts.version_header
    cases = Cases()
    for version in ctx.spec.facts.api_versions:
        with cases.case():
            # The first page in that version (in the default one: page 1, which every run reads anyway).
            exchange = ctx.client.get(_path(ctx), headers={header: version})
            ensure_status(exchange, 200, f"Api-Version {version} should be served")
            ensure_rules(exchange, rules.wepay_api_version_echo(exchange, header))
            items = (exchange.json() or {}).get("results") or []
            if items:
                one = ctx.client.get(_statement_path(ctx, str(items[0]["id"])), headers={header: version})
                ensure_status(one, 200, "a listed statement should be served by id")
                ensure_rules(one, rules.wepay_api_version_echo(one, header))
    cases.finish()


@check(GET)
def wepay_statement_by_id(ctx: CheckContext) -> None:
    """GET /billing_statements/{id} answers exactly the object the collection holds for that id."""
    result, _ = _walk(ctx)
    items = result.items()
    cases = Cases()
    # The first, last and a middle statement: enough to catch a per-field difference without N requests.
    for item in {i["id"]: i for i in (items[0], items[len(items) // 2], items[-1])}.values():
        with cases.case():
            exchange = ctx.client.get(_statement_path(ctx, str(item["id"])))
            ensure_status(exchange, 200, "a listed statement should be served by id")
            # Compared as JSON values: key order and layout are free.
            ensure(
                exchange.json() == item,
                "the statement by id should equal the list's object",
                item,
                exchange.text[:400],
                exchange,
            )
    cases.finish()


def _unknown_id(ctx: CheckContext) -> str:
    """An id no listed statement has, shaped like real ids (a UUID), so that a backend that checks the
    id's form before looking it up still answers the 404 the spec documents for an unknown id."""
    known = {str(i.get("id")) for i in _everything(ctx).items()}
    number = ctx.config.seed
    while str(uuid.UUID(int=number)) in known:
        number += 1
    return str(uuid.UUID(int=number))


def _any_id(ctx: CheckContext) -> str:
    """An id for requests whose answer comes before the lookup (credentials, headers: the spec's order of
    checks), so they need no readable page of the collection to pick one."""
    return str(uuid.UUID(int=ctx.config.seed))


@check(GET)
def wepay_not_found(ctx: CheckContext) -> None:
    """An unknown id answers 404 NOT_FOUND (a detail naming `id` says it is in the path)."""
    exchange = ctx.client.get(_statement_path(ctx, _unknown_id(ctx)))
    _ensure_v3_error(ctx, exchange, 404, "NOT_FOUND", "an unknown statement id", ("id",), PATH, required=False)


def _ensure_not_authorized(ctx: CheckContext, path: str, headers: dict[str, str], why: str) -> None:
    exchange = ctx.client.get(path, headers=headers, replace_headers=True)
    _ensure_v3_error(ctx, exchange, 403, "NOT_AUTHORIZED", why)


@check(LIST)
def wepay_auth_errors(ctx: CheckContext) -> None:
    """Missing, partial or wrong App-Id/App-Token get 403 NOT_AUTHORIZED, before any header or query check."""
    app_id, token, version = ctx.config.app_id, ctx.config.app_token, ctx.config.version
    cases = {
        "no credentials": {"Api-Version": version},
        "App-Id only": {"App-Id": app_id, "Api-Version": version},
        "App-Token only": {"App-Token": token, "Api-Version": version},
        "a wrong App-Token": {"App-Id": app_id, "App-Token": token + "x", "Api-Version": version},
        "a wrong App-Id": {"App-Id": app_id + "x", "App-Token": token, "Api-Version": version},
        # Credentials come first: a missing Api-Version does not turn a 403 into a 400.
        "no credentials and no Api-Version": {},
    }
    found = Cases()
    for path in (_path(ctx), _statement_path(ctx, _any_id(ctx))):
        for why, headers in cases.items():
            with found.case():
                _ensure_not_authorized(ctx, path, headers, f"{why} on {path}")
    found.finish()


@check(LIST)
def wepay_param_errors(ctx: CheckContext) -> None:
    """Bad headers and query parameters get 400 INVALID_PARAMS naming each field and where it was."""
    size = _page_size_schema(ctx)
    header, query = HEADER, QUERY
    unique_max = int(ctx.parameter_schema(LIST, "Unique-Key", "header")["maxLength"])
    cases: list[tuple[dict[str, Any], dict[str, str], str, str]] = [
        ({}, {"Api-Version": "9.9"}, "Api-Version", header),
        ({}, {"Unique-Key": "k" * (unique_max + 1)}, "Unique-Key", header),
        ({"page_size": size["maximum"] + 1}, {}, "page_size", query),
        ({"page_size": size["minimum"] - 1}, {}, "page_size", query),
        ({"page_size": "abc"}, {}, "page_size", query),
        ({"currency": "EUR"}, {}, "currency", query),
    ]
    found = Cases()
    for params, headers, target, target_type in cases:
        with found.case():
            exchange = ctx.client.get(_path(ctx), params, headers=headers)
            given = urlencode(params) if params else ", ".join(f"{k}: {v[:40]}" for k, v in headers.items())
            why = f"an invalid {target} ({given})"
            _ensure_invalid_params(exchange, (target,), target_type, why, ctx)
    for path in (_path(ctx), _statement_path(ctx, _any_id(ctx))):
        with found.case():
            missing = {k: v for k, v in ctx.client.default_headers.items() if k != "Api-Version"}
            exchange = ctx.client.get(path, headers=missing, replace_headers=True)
            _ensure_invalid_params(exchange, ("Api-Version",), header, f"no Api-Version on {path}", ctx)
    found.finish()


@check(LIST)
def wepay_correlation_id(ctx: CheckContext) -> None:
    """Every WePay response, errors included, carries a fresh `X-Correlation-Id` (a UUID)."""
    # Any id will do here: the answer's header is under test, not whether the id exists.
    unknown = _statement_path(ctx, _any_id(ctx))
    no_auth = {ctx.spec.facts.version_header: ctx.config.version}
    exchanges = [
        ctx.client.get(_path(ctx)),
        ctx.client.get(_path(ctx), {"page_size": 0}),
        ctx.client.get(_path(ctx), headers=no_auth, replace_headers=True),
        ctx.client.get(unknown),
        ctx.client.request("POST", _path(ctx)),
    ]
    body = exchanges[0].json()
    items = (body.get("results") if isinstance(body, dict) else None) or []
    if items and isinstance(items[0], dict) and "id" in items[0]:
        exchanges.append(ctx.client.get(_statement_path(ctx, str(items[0]["id"]))))
    seen: set[str] = set()
    cases = Cases()
    for exchange in exchanges:
        with cases.case():
            ensure_rules(exchange, rules.wepay_correlation_id(exchange))
            value = str(exchange.header("X-Correlation-Id"))
            ensure(
                value not in seen,
                "each response's X-Correlation-Id should be fresh",
                "a new id",
                f"{value} repeated",
                exchange,
            )
            seen.add(value)
    cases.finish()
