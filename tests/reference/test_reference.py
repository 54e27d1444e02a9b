"""The reference is really DRF: over its socket it answers as /work/shared/api-facts.md records DRF 3.16.1 and
simplejwt 5.5.1 answering ("DRF's own answers"), and each broken variant breaks exactly what its name says.

Each configuration is started once (module-scoped fixtures, or once in its own test for the variants).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from fixtures import DEFAULT_SEED, DatasetSize, generate_dataset
from tests.reference.running import Reference, running_drf_reference

PATH = "/api/billing/history/"
RECORDS = 250  # 13 pages of 20
ALLOW = "GET, HEAD, OPTIONS"
INVALID_PAGE = {"detail": "Invalid page."}
NOT_PROVIDED = {"detail": "Authentication credentials were not provided."}
REALM = 'Bearer realm="api"'


def _token_not_valid(message: str) -> dict[str, object]:
    return {
        "detail": "Given token not valid for any token type",
        "code": "token_not_valid",
        "messages": [{"token_class": "AccessToken", "token_type": "access", "message": message}],
    }


@pytest.fixture(scope="module")
def drf() -> Iterator[Reference]:
    """UTC, `type` through a query serializer (the differential test compares the mock with this and with the
    django-filter setup)."""
    with running_drf_reference(time_zone="UTC", type_filter="serializer", records=RECORDS) as reference:
        yield reference


@pytest.fixture(scope="module")
def drf_dar() -> Iterator[Reference]:
    """Mifumo's own zone, `type` through django-filter."""
    with running_drf_reference(time_zone="Africa/Dar_es_Salaam", type_filter="filterset", records=RECORDS) as ref:
        yield ref


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10, follow_redirects=False) as http:
        yield http


def _get(
    client: httpx.Client, ref: Reference, query: str = "", headers: dict[str, str] | None = None
) -> httpx.Response:
    """GET the history with `query` as written (never re-encoded), with the valid token unless `headers` say."""
    url = f"{ref.url}{PATH}{'?' if query else ''}{query}"
    return client.get(url, headers=ref.headers if headers is None else headers)


def _query(link: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(link).query, keep_blank_values=True)


# -- the data ---------------------------------------------------------------------------------------


def test_it_serves_the_mocks_records_in_the_contracts_order(client: httpx.Client, drf: Reference) -> None:
    expected = list(generate_dataset(DEFAULT_SEED, DatasetSize(records=RECORDS)).records)
    served: list[dict[str, object]] = []
    for page in (1, 2, 3):
        body = _get(client, drf, f"page_size=100&page={page}").json()
        assert body["count"] == RECORDS
        served += body["results"]
    assert served == expected  # amounts as JSON numbers, UTC timestamps with Z, as the generator writes them


def test_a_non_utc_zone_renders_the_servers_offset(client: httpx.Client, drf_dar: Reference) -> None:
    results = _get(client, drf_dar, "page_size=100").json()["results"]
    seed_page_usage = next(r for r in results if r["id"] == "550e8400-e29b-41d4-a716-446655440001")
    assert seed_page_usage["created_at"] == "2025-11-15T13:00:00+03:00"  # 10:00Z in Dar es Salaam
    assert all(r["created_at"].endswith("+03:00") for r in results)


# -- page_size and page ---------------------------------------------------------------------------------


def test_an_oversized_page_size_is_clamped_to_100(client: httpx.Client, drf: Reference) -> None:
    body = _get(client, drf, "page_size=101").json()
    assert len(body["results"]) == 100
    assert _query(body["next"]) == [("page", "2"), ("page_size", "101")]


@pytest.mark.parametrize("value", ["0", "abc", "", "-5"])
def test_an_unusable_page_size_is_the_default_20_and_links_keep_it(
    client: httpx.Client, drf: Reference, value: str
) -> None:
    body = _get(client, drf, f"page_size={value}").json()
    assert len(body["results"]) == 20
    assert _query(body["next"]) == [("page", "2"), ("page_size", value)]


def test_an_empty_page_is_page_one(client: httpx.Client, drf: Reference) -> None:
    assert _get(client, drf, "page=").json() == _get(client, drf).json()


@pytest.mark.parametrize("value", ["0", "-1", "abc", "14", "1.0"])
def test_a_bad_or_past_the_end_page_is_invalid_page(client: httpx.Client, drf: Reference, value: str) -> None:
    response = _get(client, drf, f"page={value}")
    assert response.status_code == 404
    assert response.json() == INVALID_PAGE
    assert response.headers["allow"] == ALLOW


def test_page_last_is_the_last_page_and_links_are_absolute_and_sorted(client: httpx.Client, drf: Reference) -> None:
    body = _get(client, drf, "zeta=1&page=last&type=usage&alpha=2").json()
    assert body["next"] is None
    previous = urlsplit(body["previous"])
    assert f"{previous.scheme}://{previous.netloc}" == drf.url
    # DRF rebuilds the query from parse_qs, sorted by name: the request's order is lost.
    assert [name for name, _ in _query(body["previous"])] == ["alpha", "page", "type", "zeta"]


# -- headers, methods, the slash ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "status"), [("", 200), ("page=99", 404), ("type=refund", 400)], ids=["200", "404", "400"]
)
def test_every_answer_carries_allow_and_vary(client: httpx.Client, drf: Reference, query: str, status: int) -> None:
    response = _get(client, drf, query)
    assert response.status_code == status
    assert response.headers["allow"] == ALLOW
    assert response.headers["vary"] == "Accept"
    assert response.headers["content-type"] == "application/json"


def test_head_is_get_without_a_body(client: httpx.Client, drf: Reference) -> None:
    response = client.head(drf.url + PATH, headers=drf.headers)
    assert (response.status_code, response.content, response.headers["allow"]) == (200, b"", ALLOW)


def test_options_is_drfs_metadata(client: httpx.Client, drf: Reference) -> None:
    response = client.options(drf.url + PATH, headers=drf.headers)
    assert response.status_code == 200
    assert response.json() == {
        "name": "Billing History",
        "description": "Get billing history including purchases, payments, and usage.",
        "renders": ["application/json", "text/html"],
        "parses": ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"],
    }


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_405(client: httpx.Client, drf: Reference, method: str) -> None:
    response = client.request(method, drf.url + PATH, headers=drf.headers)
    assert response.status_code == 405
    assert response.json() == {"detail": f'Method "{method}" not allowed.'}
    assert response.headers["allow"] == ALLOW


@pytest.mark.parametrize("method", ["GET", "POST", "OPTIONS"])
def test_no_slash_is_a_301_to_the_slash_before_authentication(
    client: httpx.Client, drf: Reference, method: str
) -> None:
    response = client.request(method, f"{drf.url}/api/billing/history?page=2&type=usage")
    assert response.status_code == 301
    assert response.headers["location"] == "/api/billing/history/?page=2&type=usage"
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "allow" not in response.headers


# -- simplejwt ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("authorization", "body"),
    [
        (None, NOT_PROVIDED),
        ("Token x", NOT_PROVIDED),
        ("bearer {token}", NOT_PROVIDED),  # simplejwt matches the scheme word exactly
        (
            "Bearer",
            {
                "detail": "Authorization header must contain two space-delimited values",
                "code": "bad_authorization_header",
            },
        ),
        (
            "Bearer a b",
            {
                "detail": "Authorization header must contain two space-delimited values",
                "code": "bad_authorization_header",
            },
        ),
        ("Bearer not-a-jwt", _token_not_valid("Token is invalid")),
        ("Bearer {expired}", _token_not_valid("Token is expired")),
    ],
    ids=["none", "token-scheme", "lower-case", "bearer-alone", "three-words", "bad", "expired"],
)
def test_simplejwt_5_5_answers(
    client: httpx.Client, drf: Reference, authorization: str | None, body: dict[str, object]
) -> None:
    headers = (
        {}
        if authorization is None
        else {"Authorization": authorization.format(token=drf.token, expired=drf.expired_token)}
    )
    response = _get(client, drf, headers=headers)
    assert response.status_code == 401
    assert response.json() == body
    assert response.headers["www-authenticate"] == REALM


def test_options_needs_credentials_too(client: httpx.Client, drf: Reference) -> None:
    response = client.options(drf.url + PATH)
    assert (response.status_code, response.json()) == (401, NOT_PROVIDED)


# -- the two type filters ---------------------------------------------------------------------------------


def test_the_query_serializer_answers_a_field_error(client: httpx.Client, drf: Reference) -> None:
    response = _get(client, drf, "type=refund")
    assert response.status_code == 400
    assert response.json() == {"type": ['"refund" is not a valid choice.']}


def test_django_filter_answers_its_form_error(client: httpx.Client, drf_dar: Reference) -> None:
    response = _get(client, drf_dar, "type=refund")
    assert response.status_code == 400
    assert response.json() == {"type": ["Select a valid choice. refund is not one of the available choices."]}


@pytest.mark.parametrize("which", ["drf", "drf_dar"])
def test_both_filters_filter_and_take_the_last_of_repeated_values(
    client: httpx.Client, which: str, request: pytest.FixtureRequest
) -> None:
    ref: Reference = request.getfixturevalue(which)
    body = _get(client, ref, "type=purchase&type=usage&page_size=100").json()
    assert {r["type"] for r in body["results"]} == {"usage"}
    assert _get(client, ref, "type=").json()["count"] == RECORDS  # empty: no filter, no error


def test_the_request_log_lists_what_was_served(client: httpx.Client, drf: Reference) -> None:
    before = len(drf.requests())
    _get(client, drf, "page=2&x=%20y")
    client.post(drf.url + "/api/billing/history")
    assert drf.requests()[before:] == [
        {"method": "GET", "path": PATH, "query": "page=2&x=%20y", "status": 200},
        {"method": "POST", "path": "/api/billing/history", "query": "", "status": 301},
    ]


# -- the broken variants ----------------------------------------------------------------------------------

SMALL = 45  # 3 pages of 20


def _start(variant: str, type_filter: str = "serializer") -> contextlib.AbstractContextManager[Reference]:
    return running_drf_reference(variant=variant, type_filter=type_filter, records=SMALL)


def test_limit_offset_pages_by_limit_and_offset(client: httpx.Client) -> None:
    with _start("limit-offset") as ref:
        body = _get(client, ref, "page=2&page_size=5").json()  # page-number parameters mean nothing here
        assert len(body["results"]) == 20
        assert _query(body["next"]) == [("limit", "20"), ("offset", "20"), ("page", "2"), ("page_size", "5")]
        assert len(_get(client, ref, "limit=5&offset=40").json()["results"]) == 5


@pytest.mark.parametrize("type_filter", ["serializer", "filterset"])
def test_type_ignored_neither_filters_nor_checks(client: httpx.Client, type_filter: str) -> None:
    with _start("type-ignored", type_filter) as ref:
        body = _get(client, ref, "type=usage&page_size=100").json()
        assert body["count"] == SMALL
        assert {r["type"] for r in body["results"]} == {"purchase", "payment", "usage"}
        assert _get(client, ref, "type=refund").status_code == 200


def test_wrong_count_says_one_more(client: httpx.Client) -> None:
    with _start("wrong-count") as ref:
        assert _get(client, ref).json()["count"] == SMALL + 1


def test_next_drops_type(client: httpx.Client) -> None:
    with _start("next-drops-type") as ref:
        body = _get(client, ref, "type=usage&page_size=5&page=2").json()
        assert _query(body["next"]) == [("page", "3"), ("page_size", "5")]
        assert _query(body["previous"]) == [("page_size", "5"), ("type", "usage")]


def test_no_auth_answers_without_credentials(client: httpx.Client) -> None:
    with _start("no-auth") as ref:
        response = _get(client, ref, headers={})
        assert response.status_code == 200
        assert response.json()["count"] == SMALL
        assert "www-authenticate" not in response.headers


def test_empty_past_end_answers_an_empty_page(client: httpx.Client) -> None:
    with _start("empty-past-end") as ref:
        response = _get(client, ref, "page=4")
        assert response.status_code == 200
        body = response.json()
        assert (body["count"], body["next"], body["results"]) == (SMALL, None, [])
        assert _query(body["previous"]) == [("page", "3")]
        assert _get(client, ref, "page=0").json() == INVALID_PAGE  # below 1 is still DRF's 404
