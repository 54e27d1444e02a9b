"""Mifumo GET /api/billing/history/: every row of the contract, in process and over a real socket."""

from __future__ import annotations

import itertools
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from mock_server import MockConfig, create_app
from mock_server.security import EXPIRED_BEARER_TOKEN
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


@pytest.mark.parametrize(
    ("value", "message"),
    [("Bearer wrong", "Token is invalid"), (f"Bearer {EXPIRED_BEARER_TOKEN}", "Token is expired")],
    ids=["invalid", "expired"],
)
def test_refused_token_is_token_not_valid_in_simplejwt_55s_words(api: httpx.Client, value: str, message: str) -> None:
    response = api.get(PATH, headers={"Authorization": value})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'
    assert response.json() == {
        "detail": "Given token not valid for any token type",
        "code": "token_not_valid",
        "messages": [{"token_class": "AccessToken", "token_type": "access", "message": message}],
    }


@pytest.mark.parametrize("value", ["Bearer", "Bearer a b"])
def test_bearer_without_exactly_one_token_is_a_bad_header(api: httpx.Client, value: str) -> None:
    response = api.get(PATH, headers={"Authorization": value})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="api"'
    assert response.json() == {
        "detail": "Authorization header must contain two space-delimited values",
        "code": "bad_authorization_header",
    }


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


@pytest.mark.parametrize("page", ["0", "-1", "abc", "1.5", "14", "99999999999999999999999999", "lasts"])
def test_bad_or_past_the_end_page_is_invalid_page(api: httpx.Client, mifumo_auth: dict[str, str], page: str) -> None:
    response = api.get(PATH, params={"page": page}, headers=mifumo_auth)
    assert response.status_code == 404
    assert response.json() == INVALID_PAGE


@pytest.mark.parametrize(
    ("page", "number"), [("", 1), ("last", 13), (" 2", 2), ("+3", 3), ("0013", 13), ("2&page=", 1)]
)
def test_page_is_read_as_drf_reads_it(api: httpx.Client, mifumo_auth: dict[str, str], page: str, number: int) -> None:
    """Empty is page 1, `last` the last, anything Python's int() reads is that number (the last of repeats)."""
    response = api.get(f"{PATH}?page={page}", headers=mifumo_auth)
    assert response.status_code == 200
    expected = api.get(PATH, params={"page": number}, headers=mifumo_auth).json()["results"]
    assert response.json()["results"] == expected


def test_last_page_is_served(api: httpx.Client, mifumo_auth: dict[str, str]) -> None:
    last = api.get(PATH, params={"page": 13}, headers=mifumo_auth).json()  # 250 records in pages of 20
    assert len(last["results"]) == 10
    assert last["next"] is None
    assert last["previous"].endswith("?page=12")
    body = api.get(PATH, params={"page": 12, "page_size": 21}, headers=mifumo_auth).json()
    assert len(body["results"]) == 250 - 11 * 21
    assert body["next"] is None


@pytest.mark.parametrize(
    ("page_size", "served"),
    [(101, 100), (1000, 100), (0, 20), (-5, 20), ("x", 20), ("", 20), ("2.5", 20), (" 7", 7), ("1_0", 10)],
)
def test_page_size_is_read_as_drf_reads_it(
    api: httpx.Client, mifumo_auth: dict[str, str], page_size: object, served: int
) -> None:
    """DRF's PageNumberPagination: cut off at max_page_size, the default for anything else it cannot use."""
    response = api.get(PATH, params={"page_size": page_size}, headers=mifumo_auth)
    assert response.status_code == 200
    body = response.json()
    assert (body["count"], len(body["results"])) == (250, served)
    assert f"page_size={page_size}".replace(" ", "+") in body["next"]  # the link keeps the value as sent


@pytest.mark.parametrize(
    "params",
    [{"type": "refund"}, {"type": "refund", "page_size": 1000, "page": 0}, {"type": "Usage", "page": "abc"}],
)
def test_a_bad_type_is_a_field_error_before_the_page(
    api: httpx.Client, mifumo_auth: dict[str, str], params: dict
) -> None:
    response = api.get(PATH, params=params, headers=mifumo_auth)
    assert response.status_code == 400
    assert response.json() == {
        "type": [f"Select a valid choice. {params['type']} is not one of the available choices."]
    }


def test_an_empty_type_filters_nothing(api: httpx.Client, mifumo_auth: dict[str, str]) -> None:
    """django-filter's ChoiceFilter: an empty choice is no filter."""
    response = api.get(PATH, params={"type": "", "page_size": 5}, headers=mifumo_auth)
    assert response.status_code == 200
    assert response.json()["count"] == 250


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


@pytest.mark.parametrize("method", ["GET", "POST", "HEAD"])
def test_the_path_without_its_slash_is_redirected_to_it(api: httpx.Client, method: str) -> None:
    """Django's APPEND_SLASH (CommonMiddleware, before authentication): 301 to the path, the query kept."""
    response = api.request(method, PATH.rstrip("/") + "?page=2&type=usage", follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"] == PATH + "?page=2&type=usage"
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.content == b""


@pytest.mark.parametrize(
    ("method", "headers", "status"),
    [("GET", "auth", 200), ("HEAD", "auth", 200), ("OPTIONS", "auth", 200), ("POST", "auth", 405),
     ("DELETE", "auth", 405), ("GET", None, 401), ("POST", None, 401), ("OPTIONS", None, 401)],
)  # fmt: skip
def test_every_answer_of_the_view_carries_allow_and_vary(
    api: httpx.Client, mifumo_auth: dict[str, str], method: str, headers: str | None, status: int
) -> None:
    """DRF's APIView: Allow and Vary on every answer; authentication before the method check."""
    response = api.request(method, PATH, headers=mifumo_auth if headers else {})
    assert response.status_code == status
    assert response.headers["allow"] == "GET, HEAD, OPTIONS"
    assert "Accept" in [v.strip() for v in response.headers["vary"].split(",")]


def test_options_describes_the_view(api: httpx.Client, mifumo_auth: dict[str, str]) -> None:
    response = api.options(PATH, headers=mifumo_auth)
    assert response.json() == {
        "name": "Billing History",
        "description": "Get billing history including purchases, payments, and usage.",
        "renders": ["application/json", "text/html"],
        "parses": ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"],
    }
