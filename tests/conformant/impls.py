"""The catalogue of conformant variants: each wraps the mock and makes ONE choice the spec allows and the
mock does not make (another cursor or id format, other texts, header case, key order, extra headers...).
The suite must pass every one of them: a check that fails one asserts more than the spec states.
"""

from __future__ import annotations

import binascii
import datetime
import json
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from typing import Any

from tests.broken.asgi import Call, Handler, Reply, Request
from tests.conformant.wire import title_cased

HISTORY = "/api/billing/history/"
STATEMENTS = "/billing_statements"


@dataclass(frozen=True)
class Variant:
    name: str
    api: str  # "mifumo" or "wepay": the API the suite is pointed at
    handler: Handler
    why: str  # the spec's words that allow it
    # Served behind this front (a context manager taking the app's URL and yielding the one to test).
    front: Callable[[str], AbstractContextManager[str]] | None = None

    def serve(self, url: str) -> AbstractContextManager[str]:
        return self.front(url) if self.front else nullcontext(url)


def _json_body(reply: Reply) -> Any:
    return reply.json() if (reply.header("content-type") or "").startswith("application/json") else None


def on_json(rewrite: Any, path: str = "") -> Handler:
    """Rewrite every JSON answer on paths starting with `path`: `rewrite(body, reply, request) -> body`."""

    async def handler(request: Request, call: Call) -> Reply:
        reply = await call(request)
        body = _json_body(reply)
        if body is None or not request.path.startswith(path):
            return reply
        return reply.with_json(rewrite(body, reply, request))

    return handler


# -- WePay --------------------------------------------------------------------------------------------


async def _cursor_with_other_names_both(request: Request, call: Call) -> Reply:
    reply = await call(request)
    others = [k for k, _ in request.query if k != "page"]
    if request.path == STATEMENTS and request.param("page") is not None and others and reply.status == 400:
        detail = {
            "target": ["page", *others],
            "target_type": "HTTP_REQUEST_QUERY_STRING",
            "reason_code": "PARAMETERS_ARE_MUTUALLY_EXCLUSIVE",
            "message": "page cannot be combined with other query parameters.",
        }
        return reply.with_json({**reply.json(), "details": [detail]})
    return reply


def _v3_other_texts(body: Any, reply: Reply, request: Request) -> Any:
    """Other error messages and reason codes, details in reverse order with an extra one first."""
    if not (isinstance(body, dict) and "error_code" in body):
        return body
    details = [{**d, "reason_code": "SOMETHING_ELSE", "message": "Another wording."} for d in body["details"]]
    if details:
        extra = {"target": ["request"], "target_type": "SDK_PARAMETER", "reason_code": "SEE_OTHER", "message": "-"}
        details = [extra, *reversed(details)]
    return {**body, "error_message": "Different words, same code.", "details": details}


def _null_when_empty(body: Any, reply: Reply, request: Request) -> Any:
    if request.path == STATEMENTS and reply.status == 200 and body.get("results") == []:
        return {**body, "results": None}
    return body


def _not_found_without_details(body: Any, reply: Reply, request: Request) -> Any:
    if reply.status == 404 and isinstance(body, dict) and body.get("error_code") == "NOT_FOUND":
        return {**body, "details": []}
    return body


# Cursors re-encoded: hex of the mock's own cursor behind a prefix, translated both ways.
CURSOR_PREFIX = "c1_"


def _encode_cursor(cursor: str) -> str:
    return CURSOR_PREFIX + cursor.encode().hex()


def _decode_cursor(cursor: str) -> str | None:
    if not cursor.startswith(CURSOR_PREFIX):
        return None
    try:
        return bytes.fromhex(cursor[len(CURSOR_PREFIX) :]).decode()
    except (ValueError, UnicodeDecodeError, binascii.Error):
        return None


async def _hex_cursors(request: Request, call: Call) -> Reply:
    cursor = request.param("page")
    if request.path == STATEMENTS and cursor is not None:
        # One the mock cannot decode is still a cursor it did not issue: its own 400.
        inner = _decode_cursor(cursor) or "not-issued"
        request = request.with_query([(k, inner if k == "page" else v) for k, v in request.query])
    reply = await call(request)
    body = _json_body(reply)
    if request.path == STATEMENTS and reply.status == 200 and isinstance(body, dict):
        for name in ("next", "previous"):
            if body.get(name):
                body[name] = f"{STATEMENTS}?page={_encode_cursor(body[name].split('page=', 1)[1])}"
        return reply.with_json(body)
    return reply


ID_PREFIX = "bs_"


def _prefixed(statement: dict[str, Any]) -> dict[str, Any]:
    ident = ID_PREFIX + statement["id"].replace("-", "")
    return {**statement, "id": ident, "path": f"{STATEMENTS}/{ident}"}


def _unprefixed(ident: str) -> str:
    raw = ident[len(ID_PREFIX) :]
    if not ident.startswith(ID_PREFIX) or len(raw) != 32:
        return ident
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


async def _other_id_format(request: Request, call: Call) -> Reply:
    if request.path.startswith(STATEMENTS + "/"):
        ident = request.path[len(STATEMENTS) + 1 :]
        request = replace(request, path=f"{STATEMENTS}/{_unprefixed(ident)}")
    reply = await call(request)
    body = _json_body(reply)
    if reply.status != 200 or not isinstance(body, dict):
        return reply
    if "results" in body:
        return reply.with_json({**body, "results": [_prefixed(s) for s in body["results"] or []]})
    return reply.with_json(_prefixed(body))


# -- both ---------------------------------------------------------------------------------------------


def _reordered(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _reordered(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [_reordered(item) for item in value]
    return value


async def _key_order_and_layout(request: Request, call: Call) -> Reply:
    reply = await call(request)
    body = _json_body(reply)
    if body is None:
        return reply
    return replace(reply, body=json.dumps(_reordered(body), indent=2).encode())


async def _as_is(request: Request, call: Call) -> Reply:
    return await call(request)


EXTRA = [
    ("Vary", "Accept, Origin"),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
    ("Strict-Transport-Security", "max-age=31536000"),
]


async def _extra_headers(request: Request, call: Call) -> Reply:
    reply = await call(request)
    for name, value in EXTRA:
        reply = reply.with_header(name, value)
    return reply


async def _head_refused(request: Request, call: Call) -> Reply:
    """HEAD is not documented: answered 405 with `Allow: GET`, in the API's own error body."""
    if request.method != "HEAD":
        return await call(request)
    reply = await call(replace(request, method="POST"))  # the mock's own 405 for an undocumented method
    return reply.with_header("Allow", "GET")


def _refused_page_size(value: str | None) -> list[str] | None:
    """A serializer's message for a page_size DRF's paginator would have read leniently, or None."""
    if value is None:
        return None
    try:
        size = int(value)
    except ValueError:
        return ["A valid integer is required."]
    if size < 1:
        return ["Ensure this value is greater than or equal to 1."]
    return ["Ensure this value is less than or equal to 100."] if size > 100 else None


async def _page_size_validated_by_a_serializer(request: Request, call: Call) -> Reply:
    """A backend validating its query with a serializer: page_size out of range or not an integer is a 400
    naming it (beside any bad `type`), where DRF's paginator would cut it off or use the default."""
    reply = await call(request)
    problem = _refused_page_size(request.param("page_size")) if request.path == HISTORY else None
    if problem is None or reply.status not in (200, 400, 404):
        return reply
    errors = reply.json() if reply.status == 400 else {}
    return replace(reply, status=400).with_json({**errors, "page_size": problem})


def _amounts_as_integers(body: Any, reply: Reply, request: Request) -> Any:
    """Whole amounts written without a fraction (`50`, not `50.0`): a JSON number all the same."""
    if reply.status != 200 or not isinstance(body, dict) or "count" not in body:
        return body
    whole = [{**r, "amount": int(r["amount"])} if float(r["amount"]).is_integer() else r for r in body["results"]]
    return {**body, "results": whole}


def _created_at_in_dar_es_salaam(body: Any, reply: Reply, request: Request) -> Any:
    """Timestamps rendered in the server's TIME_ZONE (+03:00), as DRF does with USE_TZ and a non-UTC zone."""
    if reply.status != 200 or not isinstance(body, dict) or "count" not in body:
        return body
    zone = datetime.timezone(datetime.timedelta(hours=3))

    def local(stamp: str) -> str:
        return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(zone).isoformat()

    return {**body, "results": [{**r, "created_at": local(r["created_at"])} for r in body["results"]]}


# -- Mifumo -------------------------------------------------------------------------------------------


def _simplejwt_55(body: Any, reply: Reply, request: Request) -> Any:
    if reply.status == 401 and isinstance(body, dict) and body.get("code") == "token_not_valid":
        return {**body, "messages": [{**m, "message": "Token is invalid"} for m in body["messages"]]}
    return body


def _other_field_messages(body: Any, reply: Reply, request: Request) -> Any:
    if reply.status == 400 and isinstance(body, dict):
        return {field: ["A valid value is required.", "See the documentation."] for field in body}
    return body


def _links_reordered(body: Any, reply: Reply, request: Request) -> Any:
    """The same links with their query parameters in reverse order."""
    if reply.status != 200 or not isinstance(body, dict) or "count" not in body:
        return body
    for name in ("next", "previous"):
        link = body.get(name)
        if link and "?" in link:
            base, query = link.split("?", 1)
            body[name] = base + "?" + "&".join(reversed(query.split("&")))
    return body


def _microseconds(body: Any, reply: Reply, request: Request) -> Any:
    if reply.status != 200 or not isinstance(body, dict) or not isinstance(body.get("results"), list):
        return body
    stamp = [{**r, "created_at": r["created_at"].replace("Z", ".000000Z")} for r in body["results"]]
    return {**body, "results": stamp}


CONFORMANT: list[Variant] = [
    Variant("cursor_and_other_both_named", "wepay", _cursor_with_other_names_both,
            "a cursor with other parameters answers 400 INVALID_PARAMS: which field a detail names is free"),
    Variant("v3_other_texts_and_detail_order", "wepay", on_json(_v3_other_texts),
            "error_message, reason_code and message are free strings; details is an unordered list"),
    Variant("results_null_when_empty", "wepay", on_json(_null_when_empty), "`results` is nullable"),
    Variant("not_found_without_details", "wepay", on_json(_not_found_without_details),
            "the 404 documents the NOT_FOUND envelope; details may be empty"),
    Variant("hex_cursors", "wepay", _hex_cursors, "cursors are opaque"),
    Variant("prefixed_statement_ids", "wepay", _other_id_format, "a statement id is any string of 1..255"),
    Variant("wepay_key_order_and_layout", "wepay", _key_order_and_layout, "JSON objects are unordered"),
    Variant("wepay_header_case", "wepay", _as_is, "HTTP header names are case-insensitive", title_cased),
    Variant("wepay_extra_headers", "wepay", _extra_headers, "undocumented response headers are allowed"),
    Variant("wepay_head_refused", "wepay", _head_refused, "HEAD is undocumented: a 405 is allowed"),
    Variant("simplejwt_5_5_messages", "mifumo", on_json(_simplejwt_55),
            "a simplejwt message is any string (5.5 says `Token is invalid`)"),
    Variant("drf_other_field_messages", "mifumo", on_json(_other_field_messages),
            "field errors are lists of free messages"),
    Variant("link_params_reordered", "mifumo", on_json(_links_reordered, HISTORY),
            "links keep the other parameters; their order is free"),
    Variant("created_at_microseconds", "mifumo", on_json(_microseconds, HISTORY),
            "created_at is RFC 3339 UTC with up to 6 decimals"),
    Variant("mifumo_key_order_and_layout", "mifumo", _key_order_and_layout, "JSON objects are unordered"),
    Variant("mifumo_header_case", "mifumo", _as_is, "HTTP header names are case-insensitive", title_cased),
    Variant("mifumo_extra_headers", "mifumo", _extra_headers, "undocumented response headers are allowed"),
    Variant("page_size_validated_by_a_serializer", "mifumo", _page_size_validated_by_a_serializer,
            "page_size out of range: served as DRF does, or a 400 naming page_size"),
    Variant("amounts_as_integers", "mifumo", on_json(_amounts_as_integers, HISTORY),
            "amount: any JSON form of a number"),
    Variant("created_at_with_an_offset", "mifumo", on_json(_created_at_in_dar_es_salaam, HISTORY),
            "created_at: RFC 3339 with any offset, ordered by the instant"),
    Variant("mifumo_head_refused", "mifumo", _head_refused, "HEAD is undocumented: a 405 is allowed"),
]  # fmt: skip
