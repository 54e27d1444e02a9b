"""The catalogue: each broken implementation breaks ONE rule, and names the check meant to catch it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tests.broken.asgi import Call, Handler, Reply, Request

HISTORY = "/api/billing/history/"
STATEMENTS = "/billing_statements"
VALID_BEARER_HEADER = "authorization"


@dataclass(frozen=True)
class BrokenImpl:
    name: str
    api: str  # "mifumo" or "wepay": the API the suite is pointed at
    caught_by: str
    handler: Handler
    # Only breakages that Schemathesis is meant to catch pay for a schema-level run.
    schema: bool = False


def _on(path: str, reply: Reply, request: Request) -> bool:
    return request.path == path and reply.status == 200


def json_rewrite(path: str, rewrite: Any) -> Handler:
    """Rewrite the JSON body of every 200 on `path`: `rewrite(body, request) -> body`."""

    async def handler(request: Request, call: Call) -> Reply:
        reply = await call(request)
        if _on(path, reply, request):
            return reply.with_json(rewrite(reply.json(), request))
        return reply

    return handler


def request_rewrite(rewrite: Any) -> Handler:
    async def handler(request: Request, call: Call) -> Reply:
        return await call(rewrite(request))

    return handler


# -- Mifumo -------------------------------------------------------------------------------------------


def _count_as_string(body: dict[str, Any], _: Request) -> dict[str, Any]:
    return {**body, "count": str(body["count"])}


def _loop_last_page(body: dict[str, Any], _: Request) -> dict[str, Any]:
    # The last page points "next" back at the page before it: a walk would never end.
    if body["next"] is None and body["previous"] is not None:
        return {**body, "next": body["previous"]}
    return body


def _reverse_page(body: dict[str, Any], _: Request) -> dict[str, Any]:
    return {**body, "results": list(reversed(body["results"]))}


def _relative_links(body: dict[str, Any], _: Request) -> dict[str, Any]:
    def strip(link: str | None) -> str | None:
        if link is None:
            return None
        parts = urlsplit(link)
        return f"{parts.path}?{parts.query}" if parts.query else parts.path

    return {**body, "next": strip(body["next"]), "previous": strip(body["previous"])}


def _filtered_count_off_by_one(body: dict[str, Any], request: Request) -> dict[str, Any]:
    return {**body, "count": body["count"] + 1} if request.param("type") else body


def _usage_positive(body: dict[str, Any], _: Request) -> dict[str, Any]:
    return {**body, "results": [{**r, "amount": abs(r["amount"])} for r in body["results"]]}


def _oversized_page_size_as_default(request: Request) -> Request:
    """A page_size above the maximum served as the default (20), not cut off at the maximum (100)."""
    size = request.param("page_size")
    if size is not None and size.isdigit() and int(size) > 100:
        return request.with_param("page_size", "20")
    return request


def _ignore_type(request: Request) -> Request:
    return request.without("type") if request.path == HISTORY else request


async def _ignore_mifumo_auth(request: Request, call: Call) -> Reply:
    from mock_server.security import DEFAULT_BEARER_TOKEN

    if request.path == HISTORY:
        request = request.with_headers(authorization=f"Bearer {DEFAULT_BEARER_TOKEN}")
    return await call(request)


async def _wrong_www_authenticate(request: Request, call: Call) -> Reply:
    reply = await call(request)
    return reply.with_header("WWW-Authenticate", "Bearer") if reply.status == 401 else reply


# -- WePay --------------------------------------------------------------------------------------------


async def _server_error_on_big_page_size(request: Request, call: Call) -> Reply:
    size = request.param("page_size")
    if request.path == STATEMENTS and size is not None and size.lstrip("-").isdigit() and int(size) > 500:
        reply = await call(request.without("page_size"))
        body = {"error_code": "UNEXPECTED_ERROR", "error_message": "boom", "details": []}
        return reply.with_json(body, status=500)
    return await call(request)


async def _drf_envelope_for_400(request: Request, call: Call) -> Reply:
    reply = await call(request)
    if reply.status == 400 and request.path.startswith(STATEMENTS):
        return reply.with_json({"detail": "Invalid parameters."})
    return reply


async def _no_correlation_on_errors(request: Request, call: Call) -> Reply:
    reply = await call(request)
    return reply.without_header("X-Correlation-Id") if reply.status >= 400 else reply


def _ignore_page_size(request: Request) -> Request:
    return request.without("page_size") if request.path == STATEMENTS and request.param("page") is None else request


async def _accept_tampered_cursor(request: Request, call: Call) -> Reply:
    reply = await call(request)
    if request.path == STATEMENTS and request.param("page") is not None and reply.status == 400:
        # A cursor it cannot read silently restarts the collection instead of being refused.
        return await call(request.without("page"))
    return reply


def _version_not_echoed(body: dict[str, Any], _: Request) -> dict[str, Any]:
    return {
        **body,
        "api_version": "3.0",
        "results": [{**s, "api_version": "3.0"} for s in body["results"] or []],
    }


async def _statement_differs(request: Request, call: Call) -> Reply:
    reply = await call(request)
    if request.path.startswith(STATEMENTS + "/") and reply.status == 200:
        body = reply.json()
        return reply.with_json({**body, "total_fee_amount": body["total_fee_amount"] + 1})
    return reply


def _no_previous(body: dict[str, Any], _: Request) -> dict[str, Any]:
    return {**body, "previous": None}


def _ignore_account(request: Request) -> Request:
    return request.without("account_id") if request.path == STATEMENTS else request


async def _ignore_wepay_auth(request: Request, call: Call) -> Reply:
    if request.path.startswith(STATEMENTS):
        request = request.with_headers(app_id="mock-app-id", app_token="mock-app-token")
    return await call(request)


async def _default_api_version(request: Request, call: Call) -> Reply:
    if request.path.startswith(STATEMENTS) and "api-version" not in request.headers:
        request = request.with_headers(api_version="3.0")
    return await call(request)


async def _not_found_wrong_target(request: Request, call: Call) -> Reply:
    reply = await call(request)
    if reply.status == 404 and request.path.startswith(STATEMENTS + "/"):
        body = reply.json()
        details = [{**d, "target_type": "HTTP_REQUEST_QUERY_STRING"} for d in body["details"]]
        return reply.with_json({**body, "details": details})
    return reply


async def _duplicate_across_pages(request: Request, call: Call) -> Reply:
    reply = await call(request)
    if not _on(STATEMENTS, reply, request):
        return reply
    body = reply.json()
    if body["previous"] and body["results"]:
        # The page repeats the previous page's last statement in place of its own first one.
        cursor = body["previous"].split("page=", 1)[1]
        previous = (await call(request.with_query([("page", cursor)]))).json()
        body["results"][0] = previous["results"][-1]
    return reply.with_json(body)


BROKEN: list[BrokenImpl] = [
    BrokenImpl(
        "count_is_a_string",
        "mifumo",
        "response_schema_conformance",
        json_rewrite(HISTORY, _count_as_string),
        schema=True,
    ),
    BrokenImpl("ignores_bearer_token", "mifumo", "ignored_auth", _ignore_mifumo_auth, schema=True),
    BrokenImpl("pagination_loop", "mifumo", "mifumo_pagination_integrity", json_rewrite(HISTORY, _loop_last_page)),
    BrokenImpl("wrong_order", "mifumo", "mifumo_order", json_rewrite(HISTORY, _reverse_page)),
    BrokenImpl("relative_links", "mifumo", "mifumo_link_form", json_rewrite(HISTORY, _relative_links)),
    BrokenImpl("ignores_type_filter", "mifumo", "mifumo_filter_matches", request_rewrite(_ignore_type)),
    BrokenImpl(
        "filtered_count_mismatch",
        "mifumo",
        "mifumo_filter_counts",
        json_rewrite(HISTORY, _filtered_count_off_by_one),
    ),
    BrokenImpl("usage_amount_positive", "mifumo", "mifumo_values", json_rewrite(HISTORY, _usage_positive)),
    BrokenImpl(
        "oversized_page_size_as_default", "mifumo", "mifumo_page_size", request_rewrite(_oversized_page_size_as_default)
    ),
    BrokenImpl("wrong_www_authenticate", "mifumo", "mifumo_auth_errors", _wrong_www_authenticate),
    BrokenImpl(
        "server_error_on_bad_input",
        "wepay",
        "not_a_server_error",
        _server_error_on_big_page_size,
        schema=True,
    ),
    BrokenImpl("defaults_missing_api_version", "wepay", "missing_required_header", _default_api_version, schema=True),
    BrokenImpl("drf_envelope_on_wepay", "wepay", "wepay_param_errors", _drf_envelope_for_400),
    BrokenImpl("no_correlation_id_on_errors", "wepay", "wepay_correlation_id", _no_correlation_on_errors),
    BrokenImpl("page_size_not_honoured", "wepay", "wepay_pagination_integrity", request_rewrite(_ignore_page_size)),
    BrokenImpl("duplicates_across_pages", "wepay", "wepay_pagination_integrity", _duplicate_across_pages),
    BrokenImpl("cursor_tamper_accepted", "wepay", "wepay_cursor_tamper", _accept_tampered_cursor),
    BrokenImpl(
        "api_version_not_echoed",
        "wepay",
        "wepay_api_version_echo",
        json_rewrite(STATEMENTS, _version_not_echoed),
    ),
    BrokenImpl("statement_by_id_differs", "wepay", "wepay_statement_by_id", _statement_differs),
    BrokenImpl("previous_always_null", "wepay", "wepay_previous_retraces", json_rewrite(STATEMENTS, _no_previous)),
    BrokenImpl("ignores_account_filter", "wepay", "wepay_filter_account", request_rewrite(_ignore_account)),
    BrokenImpl("ignores_wepay_credentials", "wepay", "wepay_auth_errors", _ignore_wepay_auth),
    BrokenImpl("not_found_wrong_target_type", "wepay", "wepay_not_found", _not_found_wrong_target),
]
