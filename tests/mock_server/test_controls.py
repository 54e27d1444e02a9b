"""Client-team controls over a real socket: Prefer, latency, faults, error rate, rate limit, admin API,
CORS, and the pytest fixture itself."""

from __future__ import annotations

import time

import httpx
import pytest

from fixtures import DatasetSize, generate_dataset
from mock_server import MockConfig
from mock_server.controls import ControlSettings
from mock_server.pipeline.preferences import parse_prefer
from mock_server.pipeline.throttle import Throttle
from mock_server.testing import RunningMock

HISTORY = "/api/billing/history/"
LIST = "/billing_statements"


def test_prefer_code_answers_the_documented_status_in_each_apis_body(billing_mock: RunningMock) -> None:
    m = httpx.get(billing_mock.url + HISTORY, headers={**billing_mock.mifumo_headers, "Prefer": "code=500"})
    assert (m.status_code, m.json()) == (500, {"detail": "A server error occurred."})
    w = httpx.get(billing_mock.url + LIST, headers={**billing_mock.wepay_headers, "Prefer": "code=500"})
    assert w.status_code == 500 and w.json()["error_code"] == "UNEXPECTED_ERROR"
    assert w.headers["x-correlation-id"]
    t = httpx.get(billing_mock.url + LIST, headers={**billing_mock.wepay_headers, "Prefer": "code=429"})
    assert t.status_code == 429 and t.json()["error_code"] == "THROTTLE_EXCEEDED" and int(t.headers["retry-after"]) >= 1


def test_prefer_example_and_undocumented_choices(billing_mock: RunningMock) -> None:
    headers = billing_mock.mifumo_headers
    empty = httpx.get(billing_mock.url + HISTORY, headers={**headers, "Prefer": "example=emptyHistory"})
    assert empty.json() == {"count": 0, "next": None, "previous": None, "results": []}
    bad = httpx.get(billing_mock.url + HISTORY, headers={**headers, "Prefer": "code=418"})
    assert bad.status_code == 400
    assert "200, 400, 401, 404, 406, 500" in bad.json()["non_field_errors"][0]
    bad = httpx.get(billing_mock.url + LIST, headers={**billing_mock.wepay_headers, "Prefer": "code=404"})
    assert bad.status_code == 400 and bad.json()["details"][0]["target"] == ["Prefer"]
    assert "200, 400, 403, 429, 500" in bad.json()["details"][0]["message"]


def test_credentials_still_come_first_unless_the_code_is_theirs(billing_mock: RunningMock) -> None:
    assert httpx.get(billing_mock.url + HISTORY, headers={"Prefer": "code=500"}).status_code == 401
    chosen = httpx.get(billing_mock.url + HISTORY, headers={**billing_mock.mifumo_headers, "Prefer": "code=401"})
    assert chosen.status_code == 401 and chosen.headers["www-authenticate"] == 'Bearer realm="api"'
    assert httpx.get(billing_mock.url + LIST, headers={"Prefer": "code=403", "Api-Version": "3.0"}).status_code == 403
    invalid = httpx.get(
        billing_mock.url + HISTORY + "?type=refund", headers={**billing_mock.mifumo_headers, "Prefer": "code=500"}
    )
    assert invalid.status_code == 400


def test_prefer_auth_code_answers_the_body_for_the_credentials_presented(billing_mock: RunningMock) -> None:
    """`Prefer: code=401` refuses as simplejwt would: a token given is a token not valid (the spec's
    `tokenNotValid` example), none given is "not provided"; a named example still wins."""
    spec = billing_mock.app.state.spec
    examples = spec.response("getBillingHistory", 401)["content"]["application/json"]["examples"]
    with_token = httpx.get(billing_mock.url + HISTORY, headers={**billing_mock.mifumo_headers, "Prefer": "code=401"})
    assert with_token.status_code == 401 and with_token.json() == examples["tokenNotValid"]["value"]
    assert with_token.headers["www-authenticate"] == 'Bearer realm="api"'
    without = httpx.get(billing_mock.url + HISTORY, headers={"Prefer": "code=401"})
    assert without.status_code == 401 and without.json() == examples["notProvided"]["value"]
    named = httpx.get(
        billing_mock.url + HISTORY, headers={**billing_mock.mifumo_headers, "Prefer": "code=401, example=notProvided"}
    )
    assert named.json() == examples["notProvided"]["value"]
    wepay = httpx.get(billing_mock.url + LIST, headers={**billing_mock.wepay_headers, "Prefer": "code=403"})
    assert wepay.status_code == 403 and wepay.json()["details"][0]["reason_code"] == "INVALID_CREDENTIALS"
    bare = httpx.get(billing_mock.url + LIST, headers={"Api-Version": "3.0", "Prefer": "code=403"})
    assert bare.status_code == 403 and bare.json()["details"][0]["reason_code"] == "MISSING_CREDENTIALS"


def test_prefer_delay(billing_mock: RunningMock) -> None:
    started = time.monotonic()
    response = httpx.get(billing_mock.url + LIST, headers={**billing_mock.wepay_headers, "Prefer": "delay=300"})
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.3


@pytest.mark.billing_mock(controls=ControlSettings(latency_ms=(150, 200), seed=1))
def test_latency_flag_applies_to_every_request(billing_mock: RunningMock) -> None:
    started = time.monotonic()
    for _ in range(3):
        assert httpx.get(billing_mock.url + LIST, headers=billing_mock.wepay_headers).status_code == 200
    assert time.monotonic() - started >= 0.45


def test_faults(billing_mock: RunningMock) -> None:
    headers = billing_mock.wepay_headers
    with pytest.raises(httpx.ReadError):
        httpx.get(billing_mock.url + LIST, headers={**headers, "Prefer": "fault=reset"})
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(billing_mock.url + LIST, headers={**headers, "Prefer": "fault=empty"})
    truncated = httpx.get(billing_mock.url + LIST, headers={**headers, "Prefer": "fault=malformed"})
    assert truncated.status_code == 200 and truncated.text.startswith('{"next"')
    with pytest.raises(ValueError):
        truncated.json()
    assert httpx.get(billing_mock.url + LIST, headers=headers).status_code == 200  # still serving


@pytest.mark.billing_mock(controls=ControlSettings(error_rate=0.5, seed=3))
def test_error_rate_is_a_seeded_fraction_of_documented_500s(billing_mock: RunningMock) -> None:
    statuses = [
        httpx.get(billing_mock.url + HISTORY, headers=billing_mock.mifumo_headers).status_code for _ in range(60)
    ]
    assert set(statuses) == {200, 500}
    assert 15 <= statuses.count(500) <= 45


@pytest.mark.billing_mock(controls=ControlSettings(rate_limit=True))
def test_rate_limit_per_endpoint_per_app_id(billing_mock: RunningMock) -> None:
    headers = billing_mock.wepay_headers
    statuses = [httpx.get(billing_mock.url + LIST, headers=headers).status_code for _ in range(31)]
    assert statuses[:30] == [200] * 30 and statuses[30] == 429
    throttled = httpx.get(billing_mock.url + LIST, headers=headers)
    assert throttled.json()["error_code"] == "THROTTLE_EXCEEDED" and 1 <= int(throttled.headers["retry-after"]) <= 10
    # another endpoint has its own window
    statement = "/billing_statements/c4a1abf1-34ac-40e8-bdba-5649f0665421"
    assert httpx.get(billing_mock.url + statement, headers=headers).status_code == 200
    # Mifumo documents no 429: never throttled
    assert all(
        httpx.get(billing_mock.url + HISTORY, headers=billing_mock.mifumo_headers).status_code == 200 for _ in range(35)
    )


def test_throttle_window_slides() -> None:
    throttle = Throttle(limit=2, window=10)
    assert throttle.retry_after("op", "a", now=0) is None
    assert throttle.retry_after("op", "a", now=1) is None
    assert throttle.retry_after("op", "a", now=2) == 8
    assert throttle.retry_after("op", "b", now=2) is None
    assert throttle.retry_after("op", "a", now=10) is None


def test_prefer_parsing() -> None:
    assert parse_prefer("code=500, example=x; delay=5").code == 500
    assert parse_prefer("respond-async, wait=5").code is None  # unknown preferences are ignored
    for bad in ("code=abc", "code=99", "delay=-1", "fault=fire"):
        with pytest.raises(ValueError):
            parse_prefer(bad)


def test_admin_reset_load_and_request_log(billing_mock: RunningMock) -> None:
    client = httpx.Client(base_url=billing_mock.url)
    assert client.delete("/__mock/requests").status_code == 204
    client.get(HISTORY + "?page_size=3&type=usage", headers=billing_mock.mifumo_headers)
    client.get(LIST, headers={})
    log = client.get("/__mock/requests").json()["requests"]
    assert [(e["method"], e["path"], e["query"], e["status"]) for e in log] == [
        ("GET", HISTORY, "page_size=3&type=usage", 200),
        ("GET", LIST, "", 403),
    ]
    cursor = client.get(LIST, headers=billing_mock.wepay_headers).json()["next"]
    summary = client.post("/__mock/dataset/reset", json={"seed": 9, "records": 5}).json()
    assert summary["seed"] == 9 and summary["mifumo"]["records"] == 5
    assert client.get(HISTORY, headers=billing_mock.mifumo_headers).json()["count"] == 5
    assert client.get(cursor, headers=billing_mock.wepay_headers).status_code == 400  # old data's cursor
    document = generate_dataset(2, DatasetSize(7, 3, 2)).to_document()
    assert client.put("/__mock/dataset", json=document).json()["wepay"]["statements"] == 3
    assert client.get(HISTORY, headers=billing_mock.mifumo_headers).json()["count"] == 7
    document["mifumo"]["records"][0]["amount"] = "lots"
    bad = client.put("/__mock/dataset", json=document)
    assert bad.status_code == 400 and "mifumo.records[0].amount" in bad.json()["detail"]
    assert client.post("/__mock/dataset/reset", json={"records": -1}).status_code == 400
    assert client.get("/__mock/openapi.json").json()["paths"]["/__mock/requests"]
    assert client.get("/__mock/nothing").status_code == 404


def test_cors_preflight_and_headers(billing_mock: RunningMock) -> None:
    preflight = httpx.options(
        billing_mock.url + LIST,
        headers={
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "app-id, app-token, api-version",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "http://localhost:5173"
    simple = httpx.get(
        billing_mock.url + LIST, headers={**billing_mock.wepay_headers, "Origin": "http://127.0.0.1:3000"}
    )
    assert simple.headers["access-control-allow-origin"] == "http://127.0.0.1:3000"
    assert "x-correlation-id" in simple.headers["access-control-expose-headers"].lower()
    foreign = httpx.get(billing_mock.url + LIST, headers={**billing_mock.wepay_headers, "Origin": "https://evil.test"})
    assert "access-control-allow-origin" not in foreign.headers


@pytest.mark.billing_mock(cors_origins=("https://app.example.test",))
def test_cors_origins_are_configurable(billing_mock: RunningMock) -> None:
    allowed = httpx.get(
        billing_mock.url + LIST, headers={**billing_mock.wepay_headers, "Origin": "https://app.example.test"}
    )
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.test"
    local = httpx.get(billing_mock.url + LIST, headers={**billing_mock.wepay_headers, "Origin": "http://localhost:1"})
    assert "access-control-allow-origin" not in local.headers


@pytest.mark.billing_mock(seed=77, size=DatasetSize(records=3))
def test_fixture_takes_config_from_the_marker(billing_mock: RunningMock) -> None:
    summary = httpx.get(billing_mock.url + "/__mock/dataset").json()
    assert summary["seed"] == 77 and summary["mifumo"]["records"] == 3


def test_context_manager_for_client_tests() -> None:
    from mock_server.testing import running_mock

    with running_mock(MockConfig(seed=5)) as mock:
        assert httpx.get(mock.url + HISTORY, headers=mock.mifumo_headers).status_code == 200
        url = mock.url
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + HISTORY, timeout=2)


def test_cors_vary_origin_without_an_origin_matches_starlettes() -> None:
    """Answers to non-browser requests get what Starlette's CORS middleware would add: `Vary: Origin`,
    joined to the answer's own Vary values (the mock's lean path skips Starlette only for those)."""
    from starlette.datastructures import MutableHeaders

    from mock_server.cors import _with_vary_origin

    for headers in (
        [(b"content-type", b"application/json")],
        [(b"vary", b"Accept"), (b"content-type", b"text/plain")],
        [(b"vary", b"Accept"), (b"x-a", b"1"), (b"Vary", b"Cookie")],
    ):
        message = {"type": "http.response.start", "headers": list(headers)}
        starlette = MutableHeaders(scope=message)
        starlette["Vary"] = ", ".join([*starlette.getlist("Vary"), "Origin"])
        assert _with_vary_origin(headers) == message["headers"]
