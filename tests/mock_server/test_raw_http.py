"""Raw HTTP abuse over a real socket: every malformed or hostile request gets a 4xx in the owning API's
own error body (or uvicorn's own 400 / a clean close for bytes that are not HTTP at all), never a 500,
never a hang, and the next ordinary request is still served."""

from __future__ import annotations

import json
import socket
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from mock_server.testing import RunningMock
from tests.support import raw_exchange

TIMEOUT = 10.0
MIFUMO = "/api/billing/history/"
WEPAY = "/billing_statements"
DRF_FIELD_KEYS = {"page_size", "type", "non_field_errors"}
V3_KEYS = {"error_code", "error_message", "details"}


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


def _address(mock: RunningMock) -> tuple[str, int]:
    parts = urlsplit(mock.url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def exchange(mock: RunningMock, raw: bytes) -> bytes:
    """Send `raw` on a fresh connection and read until the server closes it (never waits forever)."""
    return raw_exchange(mock.url, raw, TIMEOUT)


def parse(raw: bytes) -> RawResponse | None:
    """The first response on the wire, or None when the server closed without answering."""
    if not raw:
        return None
    head, _, rest = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", len(rest)))
    return RawResponse(int(status_line.split()[1]), headers, rest[:length])


def request(
    target: bytes | str,
    headers: dict[str, str] | None = None,
    extra: bytes = b"",
    body: bytes = b"",
    method: bytes = b"GET",
) -> bytes:
    """One HTTP/1.1 request with `Connection: close`; `extra` is spliced in verbatim after the headers."""
    if isinstance(target, str):
        target = target.encode("ascii")
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    lines += [f"{k}: {v}".encode("latin-1") for k, v in (headers or {}).items()]
    if body:
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n" + extra + b"\r\n" + body


def is_uvicorn_refusal(response: RawResponse) -> bool:
    """uvicorn's own answer to bytes it cannot parse as HTTP: a plain-text 400, before the app runs."""
    return response.status == 400 and response.headers.get("content-type", "").startswith("text/plain")


def assert_drf_error(response: RawResponse) -> None:
    assert 400 <= response.status < 500, response
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert isinstance(body, dict) and body
    if "detail" in body:
        assert isinstance(body["detail"], str)
    else:
        assert set(body) <= DRF_FIELD_KEYS, body
        assert all(isinstance(v, list) and v and all(isinstance(m, str) for m in v) for v in body.values())


def assert_v3_error(response: RawResponse) -> None:
    assert 400 <= response.status < 500, response
    assert response.headers["content-type"] == "application/json"
    uuid.UUID(response.headers["x-correlation-id"])
    body = response.json()
    assert isinstance(body, dict) and set(body) == V3_KEYS, body
    assert isinstance(body["details"], list)


def assert_refused(response: RawResponse | None, api: str) -> None:
    """A 4xx in the API's own body, uvicorn's own 400, or a clean close: never a 500."""
    if response is None or is_uvicorn_refusal(response):
        return
    (assert_v3_error if api == "wepay" else assert_drf_error)(response)


def assert_still_serving(mock: RunningMock) -> None:
    for path, headers in ((MIFUMO, mock.mifumo_headers), (WEPAY, mock.wepay_headers)):
        response = parse(exchange(mock, request(path, headers)))
        assert response is not None and response.status == 200, response
        assert "results" in response.json()  # type: ignore[operator]


def _abuse(mock: RunningMock, raw: bytes, api: str) -> RawResponse | None:
    response = parse(exchange(mock, raw))
    assert_refused(response, api)
    assert_still_serving(mock)
    return response


# -- bytes that are not (valid) HTTP ---------------------------------------------------------------

MALFORMED = {
    "garbage": b"GARBAGE\r\n\r\n",
    "binary": bytes(range(256)) + b"\r\n\r\n",
    "unknown-version": b"GET /billing_statements HTTP/9.9\r\nHost: x\r\n\r\n",
    "no-target": b"GET  HTTP/1.1\r\nHost: x\r\n\r\n",
    "space-in-target": b"GET /billing statements HTTP/1.1\r\nHost: x\r\n\r\n",
    "bare-lf-header": b"GET /billing_statements HTTP/1.1\nHost: x\nX: \x7f\x00\n\n",
    "header-without-colon": b"GET /billing_statements HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n",
    "bad-content-length": b"GET /billing_statements HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    "truncated-body": b"GET /billing_statements HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc",
}


@pytest.mark.parametrize("raw", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_request_lines_are_refused_cleanly(mock: RunningMock, raw: bytes) -> None:
    # A truncated body never completes: the client gives up, the server must not hold anything.
    if raw.startswith(b"GET /billing_statements HTTP/1.1\r\nHost: x\r\nContent-Length: 100000"):
        with socket.create_connection(_address(mock), timeout=TIMEOUT) as sock:
            sock.sendall(raw)
        assert_still_serving(mock)
        return
    response = parse(exchange(mock, raw))
    if response is not None and not is_uvicorn_refusal(response):
        assert 400 <= response.status < 500, response  # the app may answer what uvicorn let through
    assert_still_serving(mock)


def test_request_line_without_version_is_not_served(mock: RunningMock) -> None:
    response = _abuse(mock, b"GET /billing_statements\r\n\r\n", "wepay")
    assert response is None or response.status != 200


# -- oversized headers -------------------------------------------------------------------------------


def test_64k_unknown_header_does_not_break_the_server(mock: RunningMock) -> None:
    raw = request(WEPAY, mock.wepay_headers, extra=b"X-Big: " + b"a" * 65536 + b"\r\n")
    response = parse(exchange(mock, raw))
    # An ignorable header may be ignored; if refused, it is refused cleanly.
    assert response is None or response.status == 200 or is_uvicorn_refusal(response) or 400 <= response.status < 500
    assert_still_serving(mock)


@pytest.mark.parametrize("header", ["App-Id", "App-Token", "Api-Version", "Unique-Key"])
def test_64k_wepay_header_value_is_refused_in_v3(mock: RunningMock, header: str) -> None:
    headers = {**mock.wepay_headers, header: "a" * 65536}
    response = _abuse(mock, request(WEPAY, headers), "wepay")
    assert response is not None and response.status in (400, 403)
    assert b"a" * 100 not in response.body  # the value is never echoed in full


def test_64k_bearer_token_is_refused_in_drf(mock: RunningMock) -> None:
    response = _abuse(mock, request(MIFUMO, {"Authorization": "Bearer " + "a" * 65536}), "mifumo")
    assert response is not None and response.status == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'


# -- query strings -----------------------------------------------------------------------------------

QUERY_ABUSE = {
    "mifumo-bad-percent": (MIFUMO, b"?type=%ZZ", 400),
    "mifumo-truncated-utf8": (MIFUMO, b"?type=%E0%A4%A", 400),
    "mifumo-percent-non-utf8": (MIFUMO, b"?type=%FF%FE", 400),
    "mifumo-nul": (MIFUMO, b"?type=purchase%00", 400),
    "mifumo-huge-page": (MIFUMO, b"?page=" + str(10**100).encode(), 404),
    "mifumo-5000-digit-page": (MIFUMO, b"?page=" + b"9" * 5000, 404),
    "wepay-bad-percent": (WEPAY, b"?currency=%ZZ", 400),
    "wepay-percent-non-utf8": (WEPAY, b"?currency=%FF%FE", 400),
    "wepay-nul": (WEPAY, b"?currency=USD%00", 400),
    "wepay-nul-cursor": (WEPAY, b"?page=%00", 400),
    "wepay-non-utf8-cursor": (WEPAY, b"?page=%C3%28", 400),
    "wepay-huge-page-size": (WEPAY, b"?page_size=" + str(10**100).encode(), 400),
    "wepay-5000-digit-page-size": (WEPAY, b"?page_size=" + b"9" * 5000, 400),
    "wepay-huge-cursor": (WEPAY, b"?page=" + b"A" * 60000, 400),
}


@pytest.mark.parametrize(("path", "query", "status"), QUERY_ABUSE.values(), ids=QUERY_ABUSE.keys())
def test_hostile_query_strings_get_a_4xx_in_the_api_envelope(
    mock: RunningMock, path: str, query: bytes, status: int
) -> None:
    api = "wepay" if path == WEPAY else "mifumo"
    headers = mock.wepay_headers if api == "wepay" else mock.mifumo_headers
    response = _abuse(mock, request(path.encode() + query, headers), api)
    assert response is not None and not is_uvicorn_refusal(response)
    assert response.status == status, response


# Mifumo's page_size is read as DRF's paginator reads it (billing_contract.drf): whatever the text, a page.
LENIENT_PAGE_SIZES = {
    "lone-percent": (b"%", 20),
    "nul": (b"1%00", 20),
    "huge": (str(10**100).encode(), 100),
    "5000-digits": (b"9" * 5000, 20),  # past Python's int() digit limit: not an integer to DRF either
    "negative-huge": (b"-" + str(10**100).encode(), 20),
    "float": (b"1e3", 20),
}


@pytest.mark.parametrize(("value", "served"), LENIENT_PAGE_SIZES.values(), ids=LENIENT_PAGE_SIZES.keys())
def test_hostile_mifumo_page_sizes_are_served_as_drf_serves_them(mock: RunningMock, value: bytes, served: int) -> None:
    response = parse(exchange(mock, request(MIFUMO.encode() + b"?page_size=" + value, mock.mifumo_headers)))
    assert response is not None and response.status == 200, response
    assert len(json.loads(response.body)["results"]) == served


@pytest.mark.parametrize("path", [MIFUMO, WEPAY])
def test_raw_non_utf8_bytes_in_the_query_are_refused(mock: RunningMock, path: str) -> None:
    api = "wepay" if path == WEPAY else "mifumo"
    headers = mock.wepay_headers if api == "wepay" else mock.mifumo_headers
    _abuse(mock, request(path.encode() + b"?type=\xff\xfe&currency=\xc3\x28", headers), api)


@pytest.mark.parametrize(
    ("path", "query", "expected_size"),
    [
        (MIFUMO, "page_size=500&page_size=5", 5),  # like Django's QueryDict: the last value counts
        (MIFUMO, "page_size=5&page_size=500", 100),  # DRF cuts it off at the maximum
        (MIFUMO, "page=1&page=2&page_size=3", 3),
        (WEPAY, "page_size=1000&page_size=5", 5),
        (WEPAY, "page_size=5&page_size=1000", None),
        (WEPAY, "currency=USD&currency=EUR", None),
    ],
)
def test_repeated_parameters_are_validated_as_served(
    mock: RunningMock, path: str, query: str, expected_size: int | None
) -> None:
    """The value validated is the value served: never a page bigger than the schema's maximum."""
    api = "wepay" if path == WEPAY else "mifumo"
    headers = mock.wepay_headers if api == "wepay" else mock.mifumo_headers
    response = parse(exchange(mock, request(f"{path}?{query}", headers)))
    assert response is not None
    if expected_size is None:
        assert_refused(response, api)
        assert response.status == 400
    else:
        assert response.status == 200, response
        assert len(response.json()["results"]) == expected_size  # type: ignore[index]
    assert_still_serving(mock)


def test_repeated_page_serves_the_last_page_number(mock: RunningMock) -> None:
    first = parse(exchange(mock, request(f"{MIFUMO}?page=1&page=2&page_size=3", mock.mifumo_headers)))
    second = parse(exchange(mock, request(f"{MIFUMO}?page=2&page_size=3", mock.mifumo_headers)))
    assert first is not None and second is not None
    assert first.json()["results"] == second.json()["results"]  # type: ignore[index]


@pytest.mark.parametrize("path", [MIFUMO, WEPAY])
def test_ten_thousand_query_parameters_are_refused_quickly(mock: RunningMock, path: str) -> None:
    """10,000 distinct parameters (~50 KB): a prompt 400 in the API's body (Django's 1,000-field limit),
    not a minute of the event loop in connexion's quadratic query parsing."""
    api = "wepay" if path == WEPAY else "mifumo"
    headers = mock.wepay_headers if api == "wepay" else mock.mifumo_headers
    short = "&".join(f"{i:x}" for i in range(10_000))
    started = time.monotonic()
    response = _abuse(mock, request(f"{path}?{short}", headers), api)
    assert time.monotonic() - started < 5
    assert response is not None and response.status == 400, response
    # longer names exceed uvicorn's URL limit: its own 400, before the app
    long = "&".join(f"param{i}=value{i}" for i in range(10_000))
    _abuse(mock, request(f"{path}?{long}", headers), api)
    # 10,000 repeats of one name are one field for connexion: refused as too many, or as a bad value
    repeated = "&".join(["page_size=0"] * 10_000)
    response = _abuse(mock, request(f"{path}?{repeated}", headers), api)
    assert response is not None and response.status == 400


@pytest.mark.parametrize("path", [MIFUMO, WEPAY])
def test_a_thousand_unknown_parameters_are_still_ignored(mock: RunningMock, path: str) -> None:
    headers = mock.wepay_headers if path == WEPAY else mock.mifumo_headers
    query = "&".join(f"{i:x}" for i in range(1000))
    response = parse(exchange(mock, request(f"{path}?{query}", headers)))
    assert response is not None and response.status == 200, response


# -- headers and bodies ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [MIFUMO, WEPAY])
def test_nul_byte_in_a_header_is_refused(mock: RunningMock, path: str) -> None:
    api = "wepay" if path == WEPAY else "mifumo"
    headers = mock.wepay_headers if api == "wepay" else mock.mifumo_headers
    _abuse(mock, request(path, headers, extra=b"X-Nul: a\x00b\r\n"), api)


@pytest.mark.parametrize(
    ("first", "second", "status"),
    [("3.0", "7", 200), ("7", "3.0", 400), ("", "3.0", 400)],
)
def test_repeated_api_version_headers(mock: RunningMock, first: str, second: str, status: int) -> None:
    """The version validated is the version echoed (a mismatch would be a KeyError, i.e. a 500)."""
    headers = {k: v for k, v in mock.wepay_headers.items() if k != "Api-Version"}
    extra = f"Api-Version: {first}\r\nApi-Version: {second}\r\n".encode()
    for path in (WEPAY, f"{WEPAY}/{mock.app.state.data.dataset.statements[0]['id']}"):
        response = parse(exchange(mock, request(path, headers, extra=extra)))
        assert response is not None and response.status == status, response
        if status == 200:
            assert response.json()["api_version"] == first  # type: ignore[index]
        else:
            assert_v3_error(response)


BODIES = {
    "unknown-type": ("application/x-weird", b"hello"),
    "json-garbage": ("application/json", b"{not json"),
    "form": ("application/x-www-form-urlencoded", b"page_size=100000"),
    "non-utf8": ("text/plain; charset=utf-8", b"\xff\xfe\xfd\xfc"),
    "non-utf8-json": ("application/json", b'{"a": "\xff"}'),
    "multipart-broken": ("multipart/form-data; boundary=x", b"--x\r\nbroken"),
}


@pytest.mark.parametrize(("content_type", "body"), BODIES.values(), ids=BODIES.keys())
@pytest.mark.parametrize("path", [MIFUMO, WEPAY])
def test_bodies_on_get_are_ignored_or_refused(mock: RunningMock, path: str, content_type: str, body: bytes) -> None:
    """A GET's body is ignored (as DRF does) or refused in the API's body: never a 500."""
    api = "wepay" if path == WEPAY else "mifumo"
    headers = {**(mock.wepay_headers if api == "wepay" else mock.mifumo_headers), "Content-Type": content_type}
    response = parse(exchange(mock, request(path, headers, body=body)))
    assert response is not None
    if response.status != 200:
        assert_refused(response, api)
    else:
        assert response.headers["content-type"] == "application/json"
        assert "results" in response.json()  # type: ignore[operator]
    assert_still_serving(mock)


@pytest.mark.parametrize("field", ["page_size", "page", "type", "account_id", "currency"])
@pytest.mark.parametrize("path", [MIFUMO, WEPAY])
def test_a_multipart_get_body_never_stands_in_for_a_parameter(mock: RunningMock, path: str, field: str) -> None:
    """A well-formed multipart body on a GET, its file named like a query parameter, is ignored: the
    answer is the body-less one (connexion alone would pass the uploaded file to the handler: a 500)."""
    headers = mock.wepay_headers if path == WEPAY else mock.mifumo_headers
    multipart = (
        b'--b\r\nContent-Disposition: form-data; name="' + field.encode() + b'"; filename="a.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\n5\r\n--b--\r\n"
    )
    with_body = parse(
        exchange(mock, request(path, {**headers, "Content-Type": "multipart/form-data; boundary=b"}, body=multipart))
    )
    without = parse(exchange(mock, request(path, headers)))
    assert with_body is not None and without is not None
    assert (with_body.status, with_body.json()) == (200, without.json())


# -- path traversal ----------------------------------------------------------------------------------

TRAVERSALS = [
    "/billing_statements/../api/billing/history/",
    "/billing_statements/%2e%2e/api/billing/history/",
    "/billing_statements/%2E%2E/api/billing/history/",
    "/billing_statements/..%2fapi%2fbilling%2fhistory%2f",
    "/billing_statements/%2e%2e",
    "/billing_statements/..",
    "/billing_statements/./",
    "/api/billing/history/../../billing_statements",
    "/api/billing/history/%2e%2e/%2e%2e/billing_statements",
    "/api/billing/history/..%2f..%2fbilling_statements",
    "/api/billing/history/..\\..\\billing_statements",
    "/__mock/../billing_statements",
    "//billing_statements",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_path_traversal_never_reaches_another_route(mock: RunningMock, path: str) -> None:
    """Both APIs' credentials at once: a traversal must still not serve the other API's collection."""
    headers = {**mock.wepay_headers, **mock.mifumo_headers}
    response = parse(exchange(mock, request(path, headers)))
    assert response is not None
    if response.status in (307, 308):  # starlette's trailing-slash redirect: same route, no data
        location = urlsplit(response.headers["location"]).path
        assert location.rstrip("/") == path.rstrip("/"), response
        assert response.body == b""
        return
    assert response.status == 404 or is_uvicorn_refusal(response), response
    if response.headers.get("content-type") == "application/json":
        body = response.json()
        assert isinstance(body, dict) and "results" not in body and "count" not in body
        if "x-correlation-id" in response.headers:
            assert_v3_error(response)
        else:
            assert_drf_error(response)
    assert_still_serving(mock)


def test_many_abusive_requests_leave_the_server_responsive(mock: RunningMock) -> None:
    for raw in MALFORMED.values():
        if b"Content-Length: 100000" not in raw:
            exchange(mock, raw)
    assert_still_serving(mock)
