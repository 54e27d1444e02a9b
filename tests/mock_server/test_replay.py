"""The replay cache: identical requests get connexion's first answer; nothing else does."""

from __future__ import annotations

import httpx
import pytest

from fixtures import DatasetSize
from mock_server import MockConfig
from mock_server.controls import ControlSettings
from mock_server.pipeline.replay import ReplayCache
from mock_server.testing import RunningMock

HISTORY = "/api/billing/history/?page_size=2"


def _scope(headers: list[tuple[bytes, bytes]], query: bytes = b"") -> dict:
    return {"type": "http", "method": "GET", "path": "/x", "query_string": query, "headers": headers}


def test_key_reads_only_the_headers_the_contract_reads() -> None:
    cache = ReplayCache(["Authorization", "Api-Version"])
    base = cache.key(_scope([(b"authorization", b"Bearer a"), (b"user-agent", b"one")]))
    assert base == cache.key(_scope([(b"user-agent", b"two"), (b"authorization", b"Bearer a")]))
    assert base != cache.key(_scope([(b"authorization", b"Bearer b")]))
    assert base != cache.key(_scope([(b"authorization", b"Bearer a")], query=b"page=2"))
    assert base != cache.key(_scope([(b"authorization", b"Bearer a"), (b"host", b"elsewhere")]))
    assert cache.key(_scope([(b"prefer", b"code=500")])) is None
    assert cache.key(_scope([(b"content-length", b"3")])) is None


def test_cache_is_bounded_in_bytes() -> None:
    from mock_server.pipeline.replay import Answer

    cache = ReplayCache([], max_bytes=1000, max_answer=600)
    for index in range(10):
        cache._store(("GET", f"/{index}", b"", ()), Answer({"type": "http.response.start", "headers": []}, b"x" * 300))
    assert cache._bytes <= 1000 and len(cache._answers) == 3
    cache._store(("GET", "/big", b"", ()), Answer({"type": "http.response.start", "headers": []}, b"x" * 700))
    assert ("GET", "/big", b"", ()) not in cache._answers


def test_identical_requests_replay_and_a_dataset_swap_clears(billing_mock: RunningMock) -> None:
    cache = billing_mock.app.replay
    assert cache is not None
    with httpx.Client(base_url=billing_mock.url) as client:
        first = client.get(HISTORY, headers=billing_mock.mifumo_headers)
        assert len(cache._answers) == 0  # seen once: only noted (distinct requests cost no storing)
        again = client.get(HISTORY, headers=billing_mock.mifumo_headers)
        assert len(cache._answers) >= 1  # seen twice: remembered
        third = client.get(HISTORY, headers=billing_mock.mifumo_headers)
        assert again.content == first.content == third.content and third.status_code == 200
        statement = client.get("/billing_statements", headers=billing_mock.wepay_headers)
        replayed = client.get("/billing_statements", headers=billing_mock.wepay_headers)
        assert replayed.content == statement.content
        assert replayed.headers["x-correlation-id"] != statement.headers["x-correlation-id"]
        client.post("/__mock/dataset/reset", json={"records": 3})
        assert client.get(HISTORY, headers=billing_mock.mifumo_headers).json()["count"] == 3
        denied = client.get(HISTORY, headers={"Authorization": "Bearer nope"})
        assert denied.status_code == 401
        assert client.get(HISTORY, headers={"Authorization": "Bearer nope"}).status_code == 401
        assert client.get(HISTORY, headers=billing_mock.mifumo_headers).status_code == 200


@pytest.mark.billing_mock(controls=ControlSettings(error_rate=0.5, seed=2), size=DatasetSize(records=5))
def test_no_replay_when_answers_are_not_a_function_of_the_request(billing_mock: RunningMock) -> None:
    assert billing_mock.app.replay is None
    statuses = {
        httpx.get(billing_mock.url + HISTORY, headers=billing_mock.mifumo_headers).status_code for _ in range(30)
    }
    assert statuses == {200, 500}


def test_default_config_enables_replay() -> None:
    from mock_server import create_app

    assert create_app(MockConfig()).replay is not None


def test_replays_do_not_accumulate_cors_headers(billing_mock: RunningMock) -> None:
    with httpx.Client(base_url=billing_mock.url) as client:
        browser = {**billing_mock.mifumo_headers, "Origin": "http://localhost:3000"}
        first = client.get(HISTORY, headers=browser)
        for _ in range(5):
            replayed = client.get(HISTORY, headers=browser)
        assert len(replayed.headers.raw) == len(first.headers.raw)
        plain = client.get(HISTORY, headers=billing_mock.mifumo_headers)
        assert "access-control-allow-origin" not in plain.headers
