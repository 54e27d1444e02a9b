"""A short version of `tests/hardening/load.py` against a `billing-mock` subprocess: no errors under keep-alive load,
bounded memory, and a SIGTERM under load that lets in-flight requests finish and exits 0."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mock_server.security import Credentials
from mock_server.testing import free_port
from tests.hardening import load

ROOT = Path(__file__).resolve().parents[2]


CREDS = Credentials()


@pytest.fixture
def server() -> Iterator[tuple[int, object]]:
    port = free_port()
    with load.billing_mock(port) as process:
        yield port, process


def _mix(port: int) -> list:
    return load.request_mix(port, CREDS.bearer_token, CREDS.app_id, CREDS.app_token)


@pytest.mark.slow
def test_short_load_has_no_errors_and_bounded_memory(server: tuple[int, object]) -> None:
    port, process = server
    result = load.run_load(port, process.pid, _mix(port), duration=5, connections=32, warmup=1.5)
    summary = result.summary()
    print(summary)
    assert result.requests > 500, summary
    assert result.error_count == 0, summary
    assert set(result.statuses) <= {200, 400, 401, 403, 404}, summary
    assert result.rss_growth < load.MAX_RSS_GROWTH, summary
    assert process.poll() is None  # still serving


def test_load_stops_at_the_request_cap(server: tuple[int, object]) -> None:
    port, process = server
    result = load.run_load(port, process.pid, _mix(port), duration=30, connections=8, warmup=0, max_requests=200)
    assert 200 <= result.requests < 200 + 8  # each connection finishes at most the request in flight
    assert result.elapsed < 30
    assert result.error_count == 0, result.summary()


def test_sigterm_under_load_finishes_in_flight_requests(server: tuple[int, object]) -> None:
    port, process = server
    outcome = load.sigterm_under_load(process, port, _mix(port), connections=32, before=1.5, grace=15)
    summary = outcome.summary()
    print(summary)
    assert outcome.completed_before > 0, summary
    assert outcome.truncated == 0, summary  # no response cut off midway
    assert outcome.bad_status == 0, summary  # no 5xx, no wrong answer, no timeout
    assert outcome.exit_code is not None and outcome.shutdown_s < 12, summary  # within the 10 s grace


def test_sigterm_under_load_exits_zero(server: tuple[int, object]) -> None:
    port, process = server
    outcome = load.sigterm_under_load(process, port, _mix(port), connections=16, before=1.0, grace=15)
    assert outcome.exit_code == 0, outcome.summary()
