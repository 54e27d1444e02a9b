"""Properties: for any page size, filter and seed, walking `next` yields every matching record exactly
once in the contract's order, and walking `previous` retraces it."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from fixtures import DatasetSize
from mock_server import MockConfig, create_app

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@lru_cache(maxsize=8)
def _client(seed: int) -> TestClient:
    return TestClient(create_app(MockConfig(seed=seed, size=DatasetSize(records=97, statements=61, accounts=4))))


def _walk(client: TestClient, first: str, headers: dict[str, str], link: str) -> list[dict]:
    pages = [client.get(first, headers=headers).json()]
    while pages[-1][link] and len(pages) < 1000:
        pages.append(client.get(pages[-1][link], headers=headers).json())
    return pages


@SETTINGS
@given(
    seed=st.sampled_from([1, 2, 3]),
    page_size=st.integers(1, 100),
    kind=st.sampled_from([None, "purchase", "payment", "usage"]),
)
def test_mifumo_walks_are_complete_ordered_and_reversible(seed: int, page_size: int, kind: str | None) -> None:
    client = _client(seed)
    headers = {"Authorization": f"Bearer {client.app.state.credentials.bearer_token}"}
    query = f"?page_size={page_size}" + (f"&type={kind}" if kind else "")
    forward = _walk(client, "/api/billing/history/" + query, headers, "next")
    records = [r for page in forward for r in page["results"]]
    assert len(records) == forward[0]["count"] == len({r["id"] for r in records})
    assert all(kind is None or r["type"] == kind for r in records)
    keys = [(-datetime.fromisoformat(r["created_at"]).timestamp(), r["id"]) for r in records]
    assert keys == sorted(keys)
    assert all(len(page["results"]) == page_size for page in forward[:-1])
    last_page = f"/api/billing/history/{query}&page={len(forward)}"
    backward = _walk(client, last_page, headers, "previous")
    assert [p["results"] for p in backward[::-1]] == [p["results"] for p in forward]


@SETTINGS
@given(
    seed=st.sampled_from([1, 2, 3]),
    page_size=st.integers(1, 70),
    account=st.integers(-1, 4),
    version=st.sampled_from(["3.0", "3.1", "3.2"]),
)
def test_wepay_walks_are_complete_ordered_and_reversible(seed: int, page_size: int, account: int, version: str) -> None:
    client = _client(seed)
    creds = client.app.state.credentials
    headers = {"App-Id": creds.app_id, "App-Token": creds.app_token, "Api-Version": version}
    statements = client.app.state.data.dataset.statements
    owners = sorted({s["owner"]["id"] for s in statements if s["owner"]})
    account_id = owners[account] if 0 <= account < len(owners) else None
    query = f"?page_size={page_size}" + (f"&account_id={account_id}" if account_id else "")
    forward = _walk(client, "/billing_statements" + query, headers, "next")
    items = [s for page in forward for s in page["results"]]
    expected = [s for s in statements if account_id is None or (s["owner"] and s["owner"]["id"] == account_id)]
    assert len(items) == len(expected) == len({s["id"] for s in items})
    assert {s["id"] for s in items} == {s["id"] for s in expected}
    keys = [(-s["create_time"], s["id"]) for s in items]
    assert keys == sorted(keys)
    assert all(s["api_version"] == version for s in items)
    assert all(page["api_version"] == version for page in forward)
    if len(forward) > 1:
        backward = _walk(client, forward[-2]["next"], headers, "previous")
        assert [p["results"] for p in backward[::-1]] == [p["results"] for p in forward]


def _drf_replace_query_param(base: str, raw_query: str, key: str, page: int) -> str:
    """DRF's `replace_query_param` / `remove_query_param` as its PageNumberPagination applies them."""
    from urllib.parse import parse_qs, urlencode

    query = parse_qs(raw_query, keep_blank_values=True)
    query.pop(key, None)
    if page > 1:
        query[key] = [str(page)]
    encoded = urlencode(sorted(query.items()), doseq=True)
    return f"{base}?{encoded}" if encoded else base


@given(
    st.lists(
        st.tuples(st.text("abpage_z9.~-%+=é;&", min_size=0, max_size=6), st.text("ab9.~-%+= é&", max_size=6)),
        max_size=5,
    ),
    st.integers(1, 5),
)
@settings(max_examples=500, deadline=None)
def test_page_links_keep_other_parameters_as_drf_does(pairs: list[tuple[str, str]], page: int) -> None:
    """Mifumo's link for any raw query (plain or needing decoding) is DRF's: others kept sorted, page replaced."""
    from mock_server.windows import page_link

    raw = "&".join(f"{k}={v}" for k, v in pairs)
    assert page_link("http://h/p/", raw, "page", page) == _drf_replace_query_param("http://h/p/", raw, "page", page)
