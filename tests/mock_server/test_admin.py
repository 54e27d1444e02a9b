"""The tooling API under `/__mock/` over a real socket: YAML datasets, the request log's entries (as
`specs/mock-admin.yaml` documents them), and the admin token that keeps a shared instance from being
an open door."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import yaml
from openapi_schema_validator import OAS30Validator

from billing_contract.documents import ADMIN_SPEC_PATH
from fixtures import DatasetSize, dump_dataset, generate_dataset
from mock_server import MockConfig
from mock_server.admin import is_loopback
from mock_server.testing import RunningMock, running_mock
from tests.support import mock_process

HISTORY = "/api/billing/history/"
LIST = "/billing_statements"
GUARDED = (("PUT", "/__mock/dataset"), ("POST", "/__mock/dataset/reset"), ("GET", "/__mock/requests"))
OPEN = ("/__mock/health", "/__mock/openapi.json", "/__mock/dataset")


def _admin_document() -> dict[str, Any]:
    return yaml.safe_load(ADMIN_SPEC_PATH.read_text(encoding="utf-8"))


def _yaml_dataset(records: int) -> bytes:
    stream = io.StringIO()
    dump_dataset(generate_dataset(3, DatasetSize(records, 4, 2)), stream, "yaml")
    return stream.getvalue().encode()


@pytest.mark.parametrize(
    "content_type",
    ["application/yaml", "text/yaml; charset=utf-8", "application/x-www-form-urlencoded", None],
    ids=["application-yaml", "text-yaml", "curl-default-form", "none"],
)
def test_put_dataset_accepts_yaml(billing_mock: RunningMock, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    answer = httpx.put(billing_mock.url + "/__mock/dataset", content=_yaml_dataset(11), headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["mifumo"]["records"] == 11 and answer.json()["wepay"]["statements"] == 4
    served = httpx.get(billing_mock.url + HISTORY, headers=billing_mock.mifumo_headers)
    assert served.json()["count"] == 11


def test_put_dataset_yaml_errors_are_400_naming_the_problem(billing_mock: RunningMock) -> None:
    url = billing_mock.url + "/__mock/dataset"
    before = httpx.get(url).json()["fingerprint"]
    declared_json = httpx.put(url, content=_yaml_dataset(2), headers={"Content-Type": "application/json"})
    assert declared_json.status_code == 400 and "not JSON" in declared_json.json()["detail"]
    broken = httpx.put(url, content=b"mifumo: {records: [\n", headers={"Content-Type": "application/yaml"})
    assert broken.status_code == 400 and "not valid YAML" in broken.json()["detail"]
    assert "\n" not in broken.json()["detail"]
    sniffed = httpx.put(url, content=b'{"mifumo": [')
    assert sniffed.status_code == 400 and sniffed.json()["detail"].startswith("body is neither JSON nor YAML: ")
    invalid = _yaml_dataset(2).replace(b"amount: ", b"amount: lots #", 1)
    field = httpx.put(url, content=invalid)
    assert field.status_code == 400 and "mifumo.records[0].amount" in field.json()["detail"]
    assert httpx.get(url).json()["fingerprint"] == before  # nothing was swapped


def test_request_log_entries(billing_mock: RunningMock) -> None:
    client = httpx.Client(base_url=billing_mock.url, timeout=10)
    assert client.delete("/__mock/requests").status_code == 204
    now = datetime.now(UTC)
    before = now.replace(microsecond=now.microsecond // 1000 * 1000)  # the log keeps milliseconds
    client.get(HISTORY + "?page_size=2", headers={**billing_mock.mifumo_headers, "Prefer": "delay=150"})
    client.get(LIST, headers={**billing_mock.wepay_headers, "Unique-Key": "k-1", "X-Other": "not read"})
    with pytest.raises(httpx.ReadError):
        client.get(LIST, headers={**billing_mock.wepay_headers, "Prefer": "fault=reset"})
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(LIST, headers={**billing_mock.wepay_headers, "Prefer": "fault=empty"})
    client.get(LIST, headers={**billing_mock.wepay_headers, "Prefer": "fault=malformed"})
    after = datetime.now(UTC)
    answer = client.get("/__mock/requests")
    log = answer.json()["requests"]

    schema = _admin_document()["components"]["schemas"]["RequestLogEntry"]
    for entry in log:
        OAS30Validator(schema).validate(entry)
        assert before <= datetime.fromisoformat(entry["time"].replace("Z", "+00:00")) <= after
    slow, plain, reset, empty, malformed = log
    assert (slow["path"], slow["query"], slow["status"], slow["fault"]) == (HISTORY, "page_size=2", 200, None)
    assert slow["duration_ms"] >= 150 and plain["duration_ms"] < slow["duration_ms"]
    assert slow["headers"] == {"Authorization": "Bearer ***", "Prefer": "delay=150"}
    assert plain["headers"] == {"App-Id": "mock-app-id", "App-Token": "***", "Api-Version": "3.0", "Unique-Key": "k-1"}
    assert (reset["status"], reset["fault"]) == (None, "reset")
    assert (empty["status"], empty["fault"]) == (None, "empty")
    assert (malformed["status"], malformed["fault"]) == (200, "malformed")
    assert [entry["reason"] for entry in log] == [None] * 5  # every one accepted
    for secret in (billing_mock.credentials.bearer_token, billing_mock.credentials.app_token):
        assert secret not in answer.text


# Refused requests (target, whose credentials, extra headers) and the reasons the log must give: (rule,
# message), the message starting with the location and the name.
REFUSED = [
    (LIST + "?page_size=501", "wepay", {}, [("maximum", "query page_size: maximum 500, got 501")]),
    (
        LIST + "?page_size=0&currency=EUR",
        "wepay",
        {},
        [("minimum", "query page_size: minimum 1, got 0"), ("enum", "query currency: one of 'USD', 'CAD', got 'EUR'")],
    ),
    (LIST, "wepay", {"App-Token": "not-the-token"}, [("invalid", "header App-Token: not the configured credential")]),
    (
        LIST,
        None,
        {"App-Token": "not-the-token", "Api-Version": "3.0"},
        [
            ("missing", "header App-Id: required credential, missing"),
            ("invalid", "header App-Token: not the configured credential"),
        ],
    ),
    (HISTORY, None, {}, [("missing", "header Authorization: no Bearer token (missing, or not the `Bearer` scheme)")]),
    (HISTORY, None, {"Authorization": "Bearer x"}, [("invalid", "header Authorization: not the configured token")]),
    (LIST + "/no-such", "wepay", {}, [("not_found", "path id: no resource has id 'no-such'")]),
    ("/nowhere", None, {}, [("no_route", "path: /nowhere is no path of the contract")]),
    (
        HISTORY,
        "mifumo",
        {"Prefer": "code=500"},
        [("prefer", "header Prefer: the documented 500 answer, as `Prefer: code=500` chose")],
    ),
]


def _reason(rule: str, message: str) -> dict[str, str]:
    location, _, name = message.partition(":")[0].partition(" ")
    return {"location": location, "name": name, "rule": rule, "message": message}


def _headers_for(mock: RunningMock, api: str | None, extra: dict[str, str]) -> dict[str, str]:
    base = {"mifumo": mock.mifumo_headers, "wepay": mock.wepay_headers}.get(api or "", {})
    return {**base, **extra}


def test_refused_requests_say_why_in_the_log(billing_mock: RunningMock) -> None:
    """Each refused request's entry names every cause (parameter, rule, value; for a credential, which one
    and why, never its value), as `specs/mock-admin.yaml` documents the `reason` field."""
    client = httpx.Client(base_url=billing_mock.url, timeout=10)
    client.delete("/__mock/requests")
    for target, api, extra, _ in REFUSED:
        assert client.get(target, headers=_headers_for(billing_mock, api, extra)).status_code >= 400, target
    assert client.get(HISTORY, headers=billing_mock.mifumo_headers).status_code == 200
    answer = client.get("/__mock/requests")
    log = answer.json()["requests"]
    components = _admin_document()["components"]
    validator = OAS30Validator({"$ref": "#/components/schemas/RequestLogEntry", "components": components})
    for entry in log:
        validator.validate(entry)
    assert [entry["reason"] for entry in log] == [[_reason(*r) for r in reasons] for *_, reasons in REFUSED] + [None]
    for secret in ("not-the-token", billing_mock.credentials.app_token, billing_mock.credentials.bearer_token):
        assert secret not in answer.text


def test_a_replayed_refusal_still_says_why(billing_mock: RunningMock) -> None:
    """Identical requests get the first one's answer replayed (mock_server.pipeline.replay): the reason too."""
    client = httpx.Client(base_url=billing_mock.url, timeout=10)
    client.delete("/__mock/requests")
    for _ in range(4):
        assert client.get(f"{LIST}?page_size=501", headers=billing_mock.wepay_headers).status_code == 400
    log = client.get("/__mock/requests").json()["requests"]
    assert [entry["reason"] for entry in log] == [[_reason("maximum", "query page_size: maximum 500, got 501")]] * 4


def test_a_refused_requests_access_line_says_why() -> None:
    """`billing-mock` as users start it, at its default log level: the access line of a refused request
    ends with the reason (one line per request still), an accepted one's is uvicorn's own."""
    with mock_process("--log-level", "info") as mock:
        headers = {"App-Id": "mock-app-id", "App-Token": "mock-app-token", "Api-Version": "3.0"}
        assert httpx.get(f"{mock.url}{LIST}?page_size=501", headers=headers).status_code == 400
        assert httpx.get(f"{mock.url}{LIST}", headers={**headers, "App-Token": "wrong-token"}).status_code == 403
        assert httpx.get(f"{mock.url}{LIST}?page_size=2", headers=headers).status_code == 200
        time.sleep(0.3)  # the log is written as the answer goes out
        # uvicorn writes its access log to stdout
        lines = [line for line in mock.stdout.splitlines() if f'"GET {LIST}' in line]
    assert len(lines) == 3, lines
    refused, forbidden, accepted = lines
    assert refused.endswith('?page_size=501 HTTP/1.1" 400 Bad Request: query page_size: maximum 500, got 501')
    assert forbidden.endswith('" 403 Forbidden: header App-Token: not the configured credential')
    assert accepted.endswith('?page_size=2 HTTP/1.1" 200 OK') and refused.startswith("INFO:     127.0.0.1:")
    assert "wrong-token" not in mock.stdout + mock.stderr


def test_admin_document_is_valid_openapi_and_documents_the_guard() -> None:
    from openapi_spec_validator import validate

    document = _admin_document()
    validate(document)
    assert document["components"]["securitySchemes"]["adminToken"] == {
        **document["components"]["securitySchemes"]["adminToken"],
        "type": "http",
        "scheme": "bearer",
    }
    for method, path in (*GUARDED, ("DELETE", "/__mock/requests")):
        operation = document["paths"][path][method.lower()]
        assert operation["security"] == [{"adminToken": []}] and {"401", "403"} <= set(operation["responses"])
    for path in ("/__mock/health", "/__mock/dataset"):
        assert "security" not in document["paths"][path]["get"]
    put = document["paths"]["/__mock/dataset"]["put"]["requestBody"]["content"]
    assert {"application/json", "application/yaml"} <= set(put)


def _statuses(mock: RunningMock, headers: dict[str, str]) -> dict[str, int]:
    body = generate_dataset(4, DatasetSize(3, 2, 1)).to_document()
    with httpx.Client(base_url=mock.url, headers=headers, timeout=10) as client:
        return {
            "PUT /__mock/dataset": client.put("/__mock/dataset", json=body).status_code,
            "POST /__mock/dataset/reset": client.post("/__mock/dataset/reset", json={"records": 4}).status_code,
            "GET /__mock/requests": client.get("/__mock/requests").status_code,
            "DELETE /__mock/requests": client.delete("/__mock/requests").status_code,
            **{f"GET {path}": client.get(path).status_code for path in OPEN},
        }


OPEN_OK = {f"GET {path}": 200 for path in OPEN}
WRITES = ("PUT /__mock/dataset", "POST /__mock/dataset/reset", "GET /__mock/requests", "DELETE /__mock/requests")


def test_admin_token_guards_write_and_log_routes() -> None:
    with running_mock(MockConfig(admin_token="s3cret-admin")) as mock:
        fingerprint = httpx.get(mock.url + "/__mock/dataset").json()["fingerprint"]
        assert _statuses(mock, {}) == {**dict.fromkeys(WRITES, 401), **OPEN_OK}
        assert httpx.get(mock.url + "/__mock/dataset").json()["fingerprint"] == fingerprint  # nothing changed
        refused = httpx.get(mock.url + "/__mock/requests", headers={"Authorization": "Bearer wrong"})
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
        assert "admin token" in refused.json()["detail"]
        assert httpx.get(mock.url + "/__mock/requests", headers={"Authorization": "s3cret-admin"}).status_code == 401
        granted = _statuses(mock, {"Authorization": "Bearer s3cret-admin"})
        assert granted == {**OPEN_OK, **dict.fromkeys(WRITES, 200), "DELETE /__mock/requests": 204}
        # the contract's own routes are untouched by the admin token
        assert httpx.get(mock.url + HISTORY, headers=mock.mifumo_headers).status_code == 200


def test_beyond_loopback_without_a_token_the_guarded_routes_answer_403() -> None:
    with running_mock(MockConfig(), host="0.0.0.0") as mock:
        assert mock.url.startswith("http://127.0.0.1:")
        assert _statuses(mock, {}) == {**dict.fromkeys(WRITES, 403), **OPEN_OK}
        refused = httpx.delete(mock.url + "/__mock/requests", headers={"Authorization": "Bearer anything"})
        assert refused.status_code == 403
        assert "0.0.0.0" in refused.json()["detail"] and "--admin-token" in refused.json()["detail"]
        assert httpx.get(mock.url + HISTORY, headers=mock.mifumo_headers).status_code == 200


def test_beyond_loopback_with_a_token_the_token_opens_them() -> None:
    with running_mock(MockConfig(admin_token="tok"), host="0.0.0.0") as mock:
        assert _statuses(mock, {})["GET /__mock/requests"] == 401
        assert _statuses(mock, {"Authorization": "Bearer tok"})["GET /__mock/requests"] == 200


def test_loopback_without_a_token_stays_open(billing_mock: RunningMock) -> None:
    assert _statuses(billing_mock, {}) == {**OPEN_OK, **dict.fromkeys(WRITES, 200), "DELETE /__mock/requests": 204}


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        *[("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("[::1]", True), ("localhost", True)],
        *[("0.0.0.0", False), ("::", False), ("192.168.1.4", False), ("mock.internal", False), ("", False)],
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_admin_token_is_compared_in_constant_time_and_any_other_token_is_refused() -> None:
    import inspect

    from mock_server import admin

    assert "same_secret(" in inspect.getsource(admin.AdminGuard.check)  # hmac.compare_digest, see security.py
    with running_mock(MockConfig(admin_token="x" * 64)) as mock:
        for presented in ("-", "x", "x" * 63, "x" * 65, "y" * 64, "x" * 64 + " x"):
            answer = httpx.get(mock.url + "/__mock/requests", headers={"Authorization": f"Bearer {presented}"})
            assert answer.status_code == 401, presented


def test_a_web_page_elsewhere_cannot_drive_the_guarded_routes(billing_mock: RunningMock) -> None:
    """A page on another site can POST to a loopback mock without a preflight ("simple" request); the
    browser names it in Origin, and only the CORS origins and the mock's own pages are let through."""
    reset = billing_mock.url + "/__mock/dataset/reset"
    before = httpx.get(billing_mock.url + "/__mock/dataset").json()["fingerprint"]
    foreign = httpx.post(reset, content=b'{"records": 1}', headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403 and "https://evil.example" in foreign.json()["detail"]
    assert httpx.get(billing_mock.url + "/__mock/requests", headers={"Origin": "null"}).status_code == 403
    assert httpx.get(billing_mock.url + "/__mock/dataset").json()["fingerprint"] == before
    assert httpx.get(billing_mock.url + "/__mock/health", headers={"Origin": "https://evil.example"}).status_code == 200
    local_dev = httpx.post(reset, json={"records": 2}, headers={"Origin": "http://localhost:5173"})
    assert local_dev.status_code == 200 and local_dev.json()["mifumo"]["records"] == 2
    own = httpx.post(reset, json={"records": 3}, headers={"Origin": billing_mock.url})
    assert own.status_code == 200 and own.json()["mifumo"]["records"] == 3


@pytest.mark.billing_mock(cors_origins=None)
def test_with_cors_off_only_the_mocks_own_pages_may(billing_mock: RunningMock) -> None:
    reset = billing_mock.url + "/__mock/dataset/reset"
    assert httpx.post(reset, json={}, headers={"Origin": "http://localhost:5173"}).status_code == 403
    assert httpx.post(reset, json={}, headers={"Origin": billing_mock.url}).status_code == 200
    assert httpx.post(reset, json={}).status_code == 200  # curl, scripts: no Origin


@pytest.mark.parametrize("timestamp", [0.0, 1764547200.0, 1764547200.0004999, 1764547200.9995, 1764547199.9999996, 4e9])
def test_log_times_are_formatted_as_datetime_would(timestamp: float) -> None:
    from mock_server.pipeline.request_log import _iso

    assert _iso(timestamp) == datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"
