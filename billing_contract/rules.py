"""The rules one request/response exchange can show, as small pure functions: exchange in, violations out.

The semantic checks apply them to what they fetch; a validating proxy placed between a client and a
backend can apply exactly the same code to each exchange it relays. Nothing here sends a request,
reads the run's configuration or raises: a rule answers a (possibly empty) list of `Violation`s.

Every message says, in the API's terms, what was expected and what came back.
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit

import jsonschema
import jsonschema_rs
import orjson

from billing_contract.drf import drf_page_number, drf_page_size, page_count
from billing_contract.spec import Spec, to_json_schema

CURSOR_LINK = re.compile(r"^/billing_statements\?page=([^&\s]+)$")
MAX_SHOWN = 300


class ExchangeLike(Protocol):
    """What a rule reads of one exchange (the suite's `Exchange`, or a proxy's own record)."""

    method: str
    url: str
    status: int
    text: str

    def header(self, name: str) -> str | None: ...  # a response header, any case

    def sent(self, name: str) -> str | None: ...  # a request header, any case


@dataclass(frozen=True)
class Violation:
    rule: str  # e.g. "schema", "status", "mifumo-links", "wepay-api-version", "wepay-correlation-id"
    message: str
    expected: str
    got: str


# -- reading ------------------------------------------------------------------------------------------


# Texts up to this size are remembered by `remembered` functions (a few dozen of them); a larger one is
# worked out each time, so what is remembered stays small whatever the answers' size.
REMEMBERED_TEXT = 256 * 1024

T = TypeVar("T")


def remembered(maxsize: int) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """For a pure function whose last argument is a text (str or bytes): its answers remembered (LRU, callers
    only read them) while that text is at most `REMEMBERED_TEXT` long. A proxy or a walk sees the same answer
    text many times; a huge one is not worth keeping."""

    def decorate(function: Callable[..., T]) -> Callable[..., T]:
        cached = functools.lru_cache(maxsize=maxsize)(function)

        @functools.wraps(function)
        def call(*args: Any) -> T:
            return (cached if len(args[-1]) <= REMEMBERED_TEXT else function)(*args)

        return call

    return decorate


def body_of(exchange: ExchangeLike) -> tuple[bool, Any]:
    """(True, value) when the body is JSON, else (False, None). Several rules read one exchange: its text
    is parsed once (rules only read the value)."""
    return _parsed(exchange.text)


@remembered(maxsize=16)
def _parsed(text: str) -> tuple[bool, Any]:
    """orjson where it can (3x faster); what it refuses and Python's json reads (NaN, integers past 64
    bits) is read by json, so what counts as JSON is Python's json's answer either way."""
    try:
        return True, orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:
        return True, json.loads(text)
    except ValueError:
        return False, None


def shown(text: str) -> str:
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "..."


def _where(path: Any) -> str:
    """`$.results[0].amount: ` for a nested value, nothing for the body itself."""
    parts = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
    return f"`${parts}`: " if parts else ""


def _json(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "..."


def _describe(error: jsonschema.ValidationError) -> str:
    """One schema error in words (JSON values, never Python's): where, and what is wrong there."""
    where, value, rule = _where(error.absolute_path), _json(error.instance), error.validator_value
    if error.validator == "required":
        missing = str(error.message).split("'")[1] if "'" in error.message else str(rule)
        return f"{where}required field `{missing}` is missing"
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return f"{where}undocumented field(s) {', '.join(f'`{e}`' for e in extra)}"
    if error.validator == "type":
        kinds = " or ".join(rule) if isinstance(rule, list) else rule
        return f"{where}{value} is not of type {kinds}"
    if error.validator == "enum":
        return f"{where}{value} is not one of {_json(rule)}"
    if error.validator == "format":
        return f"{where}{value} is not a valid {rule}"
    if error.validator == "pattern":
        return f"{where}{value} does not match {rule}"
    if error.validator in ("oneOf", "anyOf"):
        return f"{where}{value} matches none of the documented forms"
    return f"{where}{value} breaks `{error.validator}: {_json(rule)}`"


FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("uri", raises=ValueError)
def _is_uri(value: object) -> bool:
    """An absolute URI: a scheme and, for http(s), a host (jsonschema's own check needs an extra package)."""
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme) and (parts.scheme not in ("http", "https") or bool(parts.netloc))


@FORMATS.checks("uuid", raises=ValueError)
def _is_uuid(value: object) -> bool:
    return not isinstance(value, str) or bool(uuid.UUID(value))


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", value)) and bool(
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    )


def _rust_format(name: str) -> Callable[[str], bool]:
    check, raises = FORMATS.checkers[name]

    @functools.lru_cache(maxsize=4096)  # ids and times recur: the same records are served again and again
    def conforms(value: str) -> bool:
        try:
            return bool(check(value))
        except raises:
            return False

    return conforms


# Compiled validators by schema identity (the schemas below are cached, so each is compiled once).
_COMPILED: dict[int, tuple[Mapping[str, Any], Any]] = {}


def _valid(schema: Mapping[str, Any], body: Any) -> bool:
    """Whether `body` is valid, decided by jsonschema-rs (Schemathesis' own validator, ~100x faster) with
    this module's format checks, so it agrees with jsonschema below; a validating proxy calls this on
    every answer. Only an invalid body is then worded, error by error, by jsonschema."""
    entry = _COMPILED.get(id(schema))
    if entry is None or entry[0] is not schema:
        formats = {name: _rust_format(name) for name in FORMATS.checkers}
        entry = (schema, jsonschema_rs.Draft7Validator(schema, formats=formats, validate_formats=True))
        if len(_COMPILED) < 1024:
            _COMPILED[id(schema)] = entry
    try:
        return bool(entry[1].is_valid(body))
    except Exception:  # a body the Rust side cannot take (a huge integer, say): jsonschema decides
        return False


def schema_errors(schema: Mapping[str, Any], body: Any) -> list[str]:
    """Every way `body` breaks `schema` (JSON Schema), in document order, one line each."""
    if _valid(schema, body):
        return []
    errors = jsonschema.Draft7Validator(schema, format_checker=FORMATS).iter_errors(body)
    ordered = sorted(errors, key=lambda e: [str(p) for p in e.absolute_path])
    lines: list[str] = []
    for error in ordered:
        # A `oneOf`/`anyOf` mismatch is clearer through the branch that came closest.
        best = jsonschema.exceptions.best_match([error]) if error.context else error
        line = _describe(best)
        if line not in lines:
            lines.append(line)
    return lines


# -- the documented response ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def response_schema(spec: Spec, operation_id: str, status: int) -> dict[str, Any] | None:
    """The JSON Schema of an operation's documented JSON body for `status`, None if it has none (worked out
    once per spec, operation and status; callers only read it)."""
    raw = spec.operations[operation_id].raw.get("responses", {})
    if str(status) not in raw:
        return None
    content = spec.response(operation_id, status).get("content", {})
    media = content.get("application/json")
    return to_json_schema(media["schema"]) if media and "schema" in media else None


def documented_status(spec: Spec, operation_id: str, exchange: ExchangeLike) -> list[Violation]:
    statuses = spec.operations[operation_id].statuses
    if exchange.status in statuses:
        return []
    return [
        Violation(
            "status",
            f"HTTP {exchange.status} is not a status this operation documents",
            "one of " + ", ".join(map(str, statuses)),
            f"HTTP {exchange.status}: {shown(exchange.text)}",
        )
    ]


def body_matches(spec: Spec, operation_id: str, exchange: ExchangeLike) -> list[Violation]:
    """The body is JSON matching the documented schema for its status, every schema error listed."""
    schema = response_schema(spec, operation_id, exchange.status)
    if schema is None:
        return []
    is_json, _ = body_of(exchange)
    if not is_json:
        return [
            Violation(
                "schema",
                f"the HTTP {exchange.status} body should be JSON",
                "a JSON body matching the documented schema",
                f"{exchange.header('Content-Type') or 'no Content-Type'}: {shown(exchange.text)}",
            )
        ]
    errors = _schema_errors_of(spec, operation_id, exchange.status, exchange.text)
    if not errors:
        return []
    return [
        Violation(
            "schema",
            f"the HTTP {exchange.status} body should match the documented schema ({len(errors)} error(s))",
            "a body matching the documented schema",
            "; ".join(errors),
        )
    ]


@remembered(maxsize=64)
def _schema_errors_of(spec: Spec, operation_id: str, status: int, text: str) -> tuple[str, ...]:
    """`schema_errors` of one JSON text against one documented response."""
    schema = response_schema(spec, operation_id, status)
    return tuple(schema_errors(schema, _parsed(text)[1])) if schema is not None else ()


def error_envelope(spec: Spec, schema_name: str, envelope: str, exchange: ExchangeLike) -> list[Violation]:
    """An error answer (4xx/5xx) of a status the operation does not document (e.g. 405) is still in the
    API's own error body (`schema_name`, described as `envelope`: the API profile says which)."""
    if exchange.status < 400:
        return []
    is_json, body = body_of(exchange)
    errors = schema_errors(_named_schema(spec, schema_name), body) if is_json else ["the body is not JSON"]
    if not errors:
        return []
    return [
        Violation(
            "error-envelope",
            f"an HTTP {exchange.status} answer should be in {envelope}",
            envelope,
            f"{'; '.join(errors)} in {shown(exchange.text)}",
        )
    ]


@functools.lru_cache(maxsize=64)
def _named_schema(spec: Spec, name: str) -> dict[str, Any]:
    return spec.json_schema(name)


# -- Mifumo -------------------------------------------------------------------------------------------


def mifumo_page_unreadable(body: Any) -> list[str]:
    """Why a body cannot be read as a DRF page at all (empty when it can): the envelope the walks need."""
    if not isinstance(body, dict):
        return ["the body is not a JSON object"]
    reasons = []
    if not isinstance(body.get("count"), int) or isinstance(body.get("count"), bool):
        reasons.append("`count` is not an integer")
    if not isinstance(body.get("results"), list):
        reasons.append("`results` is not a list")
    reasons += [
        f"`{name}` is not a string or null"
        for name in ("next", "previous")
        if name not in body or not isinstance(body[name], str | None)
    ]
    return reasons


@remembered(maxsize=256)
def _query(url: str) -> dict[str, list[str]]:
    """A URL's query (a proxy sees the same links again and again)."""
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def _last(values: list[str] | None) -> str | None:
    return values[-1] if values else None  # DRF's QueryDict.get: the last of repeated values


def mifumo_links(exchange: ExchangeLike, page_size: tuple[int, int] = (20, 100)) -> list[Violation]:
    """On a 200 page: `next`/`previous` are absolute URIs on the request's own scheme, host and path, keep
    the request's other query parameters, point at the neighbouring page numbers (the link to page 1 has
    no `page`), and exist exactly when there is such a page; `count` agrees with the page's records. The
    page and its size are the ones DRF reads from the request (`page_size`: the default and the most)."""
    is_json, body = body_of(exchange)
    if exchange.status != 200 or not is_json or mifumo_page_unreadable(body):
        return []
    query = _query(exchange.url)
    count, items = body["count"], body["results"]
    size = drf_page_size(_last(query.get("page_size")), *page_size)
    page = drf_page_number(_last(query.get("page")), page_count(count, size))
    if page is None or page < 1:
        return []
    violations = _mifumo_counts(page, size, count, len(items))
    requested = urlsplit(exchange.url)
    others = {k: v for k, v in query.items() if k != "page"}
    for name, number in (("next", page + 1), ("previous", page - 1)):
        exists = number >= 1 and (number < page or count > page * size)
        link = body[name]
        if (link is not None) != exists:
            violations.append(
                Violation(
                    "mifumo-links",
                    f"page {page} of {count} record(s) in pages of {size} should "
                    + ("have" if exists else "have no")
                    + f" `{name}` link",
                    f"page {number}" if exists else "null",
                    str(link) if link is not None else "null",
                )
            )
            continue
        if link is None:
            continue
        parts = urlsplit(link)
        base = f"{requested.scheme}://{requested.netloc}{requested.path}"
        if (parts.scheme, parts.netloc, parts.path) != (requested.scheme, requested.netloc, requested.path):
            violations.append(
                Violation("mifumo-links", f"`{name}` should be an absolute URI on the request's own path", base, link)
            )
            continue
        got = _query(link)
        want_page = None if number == 1 else [str(number)]
        kept = all(got.get(k) == v for k, v in others.items())
        if got.get("page") != want_page or not kept:
            what = "no `page`" if number == 1 else f"page={number}"
            want = {**others, **({"page": want_page} if want_page else {})}
            violations.append(
                Violation(
                    "mifumo-links",
                    f"`{name}` should keep the request's other query parameters and carry {what}",
                    urlencode(want, doseq=True),
                    urlencode(got, doseq=True),
                )
            )
    return violations


def _mifumo_counts(page: int, size: int, count: int, held: int) -> list[Violation]:
    last = max(1, -(-count // size))
    if page > last:
        return []
    want = size if page < last else count - (last - 1) * size
    if held == want:
        return []
    return [
        Violation(
            "mifumo-count",
            f"page {page} in pages of {size} out of `count` {count} should hold {want} record(s)",
            str(want),
            str(held),
        )
    ]


# -- WePay --------------------------------------------------------------------------------------------


def wepay_api_version_echo(exchange: ExchangeLike, version_header: str = "Api-Version") -> list[Violation]:
    """On a 200, the page's and every statement's `api_version` echo the request's Api-Version."""
    version = exchange.sent(version_header)
    _, body = body_of(exchange)
    if exchange.status != 200 or version is None or not isinstance(body, dict):
        return []
    statements = body.get("results") if "results" in body else [body]
    found = [("the page", body.get("api_version"))] if "results" in body else []
    found += [(f"statement {s.get('id')}", s.get("api_version")) for s in statements or [] if isinstance(s, dict)]
    wrong = [f"{where}: {value!r}" for where, value in found if value != version]
    if not wrong:
        return []
    return [
        Violation(
            "wepay-api-version",
            "every `api_version` should echo the request's Api-Version",
            version,
            ", ".join(wrong[:5]) + (f" (and {len(wrong) - 5} more)" if len(wrong) > 5 else ""),
        )
    ]


def wepay_correlation_id(exchange: ExchangeLike) -> list[Violation]:
    """Every WePay response, errors included, carries an `X-Correlation-Id` that is a UUID."""
    value = exchange.header("X-Correlation-Id")
    if value:
        try:
            uuid.UUID(value)
        except ValueError:
            pass
        else:
            return []
    return [
        Violation(
            "wepay-correlation-id",
            "every WePay response should carry X-Correlation-Id (a UUID)",
            "X-Correlation-Id: <uuid>",
            f"HTTP {exchange.status} with X-Correlation-Id: {value}" if value else f"HTTP {exchange.status} without it",
        )
    ]


def wepay_links(exchange: ExchangeLike) -> list[Violation]:
    """On a 200 page, `next`/`previous` are relative `/billing_statements?page=<cursor>` paths or null."""
    _, body = body_of(exchange)
    if exchange.status != 200 or not isinstance(body, dict) or "results" not in body:
        return []
    return [
        Violation(
            "wepay-links",
            f"`{name}` should be a relative cursor path",
            "/billing_statements?page=<cursor>",
            str(body.get(name)),
        )
        for name in ("next", "previous")
        if body.get(name) is not None and not (isinstance(body[name], str) and CURSOR_LINK.match(body[name]))
    ]


def wepay_page_unreadable(body: Any) -> list[str]:
    """Why a body cannot be read as a WePay page at all (empty when it can)."""
    if not isinstance(body, dict):
        return ["the body is not a JSON object"]
    reasons = []
    if not isinstance(body.get("results"), list | None) or "results" not in body:
        reasons.append("`results` is not a list or null")
    reasons += [
        f"`{name}` is not a string or null"
        for name in ("next", "previous")
        if name not in body or not isinstance(body[name], str | None)
    ]
    return reasons


# -- all of them --------------------------------------------------------------------------------------


def operation_of(spec: Spec, method: str, url: str) -> str | None:
    """The operation an exchange belongs to, by method and path (the base URL may add a prefix)."""
    path = urlsplit(url).path
    for operation_id, operation in spec.operations.items():
        pattern = re.escape(operation.path).replace(r"\{id\}", "[^/]+")
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", pattern)
        if operation.method.upper() == method.upper() and re.search(f"{pattern}$", path):
            return operation_id
    return None


@functools.lru_cache(maxsize=16)
def page_size_bounds(spec: Spec, operation_id: str) -> tuple[int, int] | None:
    """An operation's page size when unusable and its most, or None where it takes no `page_size`."""
    if not any(p["in"] == "query" and p["name"] == "page_size" for p in spec.parameters(operation_id)):
        return None
    schema = spec.documented_integer(operation_id, "page_size")
    return int(schema["default"]), int(schema["maximum"])
