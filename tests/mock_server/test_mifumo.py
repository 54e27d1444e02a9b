"""Mifumo GET /api/billing/history/: every row of the contract, in process and over a real socket."""

from __future__ import annotations

import itertools
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from mock_server import MockConfig, create_app
from mock_server.testing import running_mock

PATH = "/api/billing/history/"
NOT_PROVIDED = {"detail": "Authentication credentials were not provided."}
INVALID_PAGE = {"detail": "Invalid page."}


def _records(api: httpx.Client, auth: dict[str, str], **params: object) -> list[dict]:
    body = api.get(PATH, params={"page_size": 100, **params}, headers=auth).json()
    records, page = list(body["results"]), 1
    while body["next"]:
        page += 1
        body = api.get(PATH, params={"page_size": 100, "page": page, **params}, headers=auth).json()
        records += body["results"]
    return records


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Token abc"}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": ""}],
    ids=["missing", "token-scheme", "basic-scheme", "empty"],
)
def test_missing_or_non_bearer_credentials_are_not_provided(api: httpx.Client, headers: dict[str, str]) -> None:
    response = api.get(PATH, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'
    assert response.json() == NOT_PROVIDED


@pytest.mark.parametrize("value", ["Bearer wrong", "Bearer", "Bearer a b"])
def test_invalid_token_is_token_not_valid(api: httpx.Client, value: str) -> None:
    response = api.get(PATH, headers={"Authorization": value})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'
    body = response.json()
    assert body["code"] == "token_not_valid"
    assert body["detail"] == "Given token not valid for any token type"
    assert body["messages"] == [
        {"token_class": "AccessToken", "token_type": "access", "message": "Token is invalid or expired"}
    ]


def test_scheme_word_is_case_sensitive_like_simplejwt(api: httpx.Client, mifumo_auth: dict[str, str]) -> None:
    token = mifumo_auth["Authorization"].split()[1]
    response = api.get(PATH, headers={"Authorization": f"bearer {token}"})
    assert response.status_code == 401
    assert response.json() == NOT_PROVIDED


def test_first_page_defaults(api: httpx.Client, mifumo_auth: dict[str, str]) -> None:
    response = api.get(PATH, headers=mifumo_auth)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["count"] == 250
    assert len(body["results"]) == 20
    assert body["previous"] is None
    assert body["next"] == f"{api.base_url.scheme}://{api.base_url.netloc.decode()}{PATH}?page=2"


@pytest.mark.parametrize("page", ["0", "-1", "abc", "1.5", "", "14", "99999999999999999999999999"])
def test_bad_or_past_the_end_page_is_invalid_page(api: httpx.Client, mifumo_auth: dict[str, str], page: str) -> None:
    response = api.get(PATH, params={"page": page}, headers=mifumo_auth)
    assert response.status_code == 404
    assert response.json() == INVALID_PAGE


def test_last_page_is_served(api: httpx.Client, mifumo_auth: dict[str, str]) -> None:
    last = api.get(PATH, params={"page": 13}, headers=mifumo_auth).json()  # 250 records in pages of 20
    assert len(last["results"]) == 10
    assert last["next"] is None
    assert last["previous"].endswith("?page=12")
    body = api.get(PATH, params={"page": 12, "page_size": 21}, headers=mifumo_auth).json()
    assert len(body["results"]) == 250 - 11 * 21
    assert body["next"] is None


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"page_size": 0}, {"page_size": ["Ensure this value is greater than or equal to 1."]}),
        ({"page_size": 101}, {"page_size": ["Ensure this value is less than or equal to 100."]}),
        ({"page_size": "x"}, {"page_size": ["A valid integer is required."]}),
        ({"page_size": ""}, {"page_size": ["A valid integer is required."]}),
        ({"type": "refund"}, {"type": ["Select a valid choice. refund is not one of the available choices."]}),
        (
            {"type": "Usage", "page_size": 1000, "page": 0},
            {
                "type": ["Select a valid choice. Usage is not one of the available choices."],
                "page_size": ["Ensure this value is less than or equal to 100."],
            },
        ),
    ],
)
def test_bad_fields_are_reported_together(
    api: httpx.Client, mifumo_auth: dict[str, str], params: dict, expected: dict
) -> None:
    response = api.get(PATH, params=params, headers=mifumo_auth)
    assert response.status_code == 400
    assert response.json() == expected


def test_auth_is_checked_before_fields(api: httpx.Client) -> None:
    response = api.get(PATH, params={"page_size": 0, "page": 0})
    assert response.status_code == 401


def test_links_keep_other_parameters_and_drop_page_for_page_one(api: httpx.Client, mifumo_auth: dict[str, str]) -> None:
    body = api.get(
        PATH, params={"page": 2, "page_size": 5, "type": "usage", "extra": "kept"}, headers=mifumo_auth
    ).json()
    nxt, prev = urlsplit(body["next"]), urlsplit(body["previous"])
    assert nxt.netloc == prev.netloc == api.base_url.netloc.decode()
    assert parse_qs(nxt.query) == {"page": ["3"], "page_size": ["5"], "type": ["usage"], "extra": ["kept"]}
    assert parse_qs(prev.query) == {"page_size": ["5"], "type": ["usage"], "extra": ["kept"]}


def test_links_use_the_request_host(api: httpx.Client, mifumo_auth: dict[str, str]) -> None:
    body = api.get(PATH, headers={**mifumo_auth, "Host": "billing.example.test:8443"}).json()
    assert body["next"].startswith("http://billing.example.test:8443/api/billing/history/")


def test_records_and_order(api: httpx.Client, mifumo_auth: dict[str, str], spec) -> None:
    records = _records(api, mifumo_auth)
    assert len(records) == 250 == len({r["id"] for r in records})
    keys = [(-datetime.fromisoformat(r["created_at"]).timestamp(), r["id"]) for r in records]
    assert keys == sorted(keys)
    assert any(a[0] == b[0] for a, b in itertools.pairwise(keys)), "dataset should exercise the tie-break"
    for record in records:
        assert record["created_at"].endswith("Z")
        assert round(record["amount"], 2) == record["amount"]
        assert (record["amount"] < 0) == (record["type"] == "usage")
        assert record["amount"] != 0
    assert {r["type"] for r in records} == set(spec.schema("BillingRecordType")["enum"])
    assert {r["status"] for r in records} == set(spec.schema("BillingRecordStatus")["enum"])
    assert len({r["currency"] for r in records}) >= 3


def test_type_filter_counts_add_up(api: httpx.Client, mifumo_auth: dict[str, str]) -> None:
    total = api.get(PATH, headers=mifumo_auth).json()["count"]
    counts = {}
    for kind in ("purchase", "payment", "usage"):
        records = _records(api, mifumo_auth, type=kind)
        assert {r["type"] for r in records} == {kind}
        counts[kind] = api.get(PATH, params={"type": kind}, headers=mifumo_auth).json()["count"]
        assert counts[kind] == len(records)
    assert sum(counts.values()) == total


def test_seed_page_records_are_served_verbatim(api: httpx.Client, mifumo_auth: dict[str, str], spec) -> None:
    served = {r["id"]: r for r in _records(api, mifumo_auth)}
    for record in spec.example("getBillingHistory", 200, "seedPage")["results"]:
        assert served[record["id"]] == record


def test_unknown_query_parameters_are_ignored(api: httpx.Client, mifumo_auth: dict[str, str]) -> None:
    plain = api.get(PATH, headers=mifumo_auth).json()
    extra = api.get(PATH, params={"ordering": "-amount", "foo": "bar"}, headers=mifumo_auth).json()
    assert extra["results"] == plain["results"]
    assert extra["count"] == plain["count"]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_other_methods_are_405_with_allow(api: httpx.Client, mifumo_auth: dict[str, str], method: str) -> None:
    response = api.request(method, PATH, headers=mifumo_auth)
    assert response.status_code == 405
    assert "GET" in response.headers["allow"]
    assert response.json() == {"detail": f'Method "{method}" not allowed.'}


def test_head_is_served_like_get(api: httpx.Client, mifumo_auth: dict[str, str]) -> None:
    response = api.head(PATH, headers=mifumo_auth)
    assert response.status_code == 200
    assert response.content == b""


def test_unknown_path_under_the_api_is_drf_404(api: httpx.Client) -> None:
    response = api.get("/api/billing/nothing/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
    assert "problem" not in response.headers["content-type"]


def test_empty_history_is_a_200_with_count_zero() -> None:
    with running_mock(MockConfig(size=_size(records=0))) as mock:
        response = httpx.get(mock.url + PATH, headers=mock.mifumo_headers)
        assert response.status_code == 200
        assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}
        assert httpx.get(mock.url + PATH + "?page=2", headers=mock.mifumo_headers).status_code == 404


def test_only_the_configured_token_is_accepted() -> None:
    from mock_server import Credentials

    app = create_app(MockConfig(credentials=Credentials(bearer_token="team-token")))
    from starlette.testclient import TestClient

    client = TestClient(app)
    assert client.get(PATH, headers={"Authorization": "Bearer team-token"}).status_code == 200
    default = create_app(MockConfig()).state.credentials.bearer_token
    assert client.get(PATH, headers={"Authorization": f"Bearer {default}"}).status_code == 401


def _size(**kwargs: int):
    from fixtures import DatasetSize

    return DatasetSize(**kwargs)


def test_the_path_without_its_slash_is_not_found_not_redirected(api: httpx.Client, mifumo_auth: dict[str, str]) -> None:
    response = api.get(PATH.rstrip("/"), headers=mifumo_auth, follow_redirects=False)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
