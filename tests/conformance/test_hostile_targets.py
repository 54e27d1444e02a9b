"""The suite against bad targets: down, slow, HTML, dropped connections, redirects; its rate cap, its 429
handling and its deadline. Every test is bounded by small --timeout/--deadline values and asserts its
wall-clock time (pytest-timeout is not installed). Targets that give no HTTP answer at all, and the other
operator mistakes, stop at the preflight: tests/conformance/test_operator_errors.py."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from conformance import SuiteConfig, SuiteReport, run_suite
from conformance.cli import main
from conformance.junit import to_xml
from conformance.pacing import RATE_MARGIN, Pacer, retry_after_seconds
from conformance.render import render
from conformance.report import Status
from mock_server import MockConfig, create_app
from mock_server.controls import ControlSettings
from mock_server.testing import free_port, running_mock, serve_in_thread
from tests.broken.asgi import Broken, Reply, Request
from tests.support import MOCK_CREDENTIALS, suite_config

ROOT = Path(__file__).resolve().parents[2]
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]


def _app(endpoint) -> Starlette:
    return Starlette(routes=[Route("/{path:path}", endpoint, methods=METHODS)])


def _cli(*argv: str, timeout: float = 60) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "conformance.cli", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return done, time.monotonic() - started


def _timed(config: SuiteConfig) -> tuple[SuiteReport, float]:
    started = time.monotonic()
    report = run_suite(config)
    return report, time.monotonic() - started


def _max_in_window(stamps: list[float], window: float = 1.0) -> int:
    stamps = sorted(stamps)
    most, first = 0, 0
    for last, stamp in enumerate(stamps):
        while stamp - stamps[first] >= window:
            first += 1
        most = max(most, last - first + 1)
    return most


# --- target down ---------------------------------------------------------------------------------------


def test_target_down_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    assert main(["--wepay-url", f"http://127.0.0.1:{free_port()}", "--quiet"]) == 2
    captured = capsys.readouterr()
    assert time.monotonic() - started < 5
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "unreachable" in captured.err and "Traceback" not in captured.err


def test_target_down_cli_subprocess_exits_2_with_one_line() -> None:
    done, wall = _cli("--mifumo-url", f"http://127.0.0.1:{free_port()}", "--timeout", "1", "--deadline", "5")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("billing-conformance: error: mifumo target") and "unreachable" in done.stderr
    assert "Traceback" not in done.stderr
    assert wall < 15


# --- slow target ---------------------------------------------------------------------------------------


def _slow_after_the_first() -> Starlette:
    """Answers the first request (the preflight's) at once and every later one after 1.5 s: a target
    that slows down under the checks. (One slow from the start stops the run at the preflight: exit 2,
    tests/conformance/test_operator_errors.py.)"""
    answered = {"first": False}

    async def slow(request: StarletteRequest) -> Response:
        if answered["first"]:
            await asyncio.sleep(1.5)
        answered["first"] = True
        return PlainTextResponse("late")

    return _app(slow)


@pytest.fixture
def slow_url() -> Iterator[str]:
    with serve_in_thread(_slow_after_the_first()) as url:
        yield url


def test_slow_target_reports_timeouts_and_finishes_within_the_deadline(slow_url: str) -> None:
    # The whole run takes ~8 s here (Schemathesis' phases, then 11 semantic checks at 0.3 s each); the deadline
    # leaves room for a slower CI machine so that both phases are reached, and still bounds the run.
    done, wall = _cli(
        "--mifumo-url", slow_url, "--timeout", "0.3", "--deadline", "25", "--max-examples", "2", "--quiet"
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    # Schemathesis' cases and the semantic checks both report the timeouts, as failures.
    assert "no response within 0.3s (--timeout)" in done.stdout
    assert "schema_request_errors" in done.stdout and "timed out" in done.stdout
    assert "NOT CONFORMANT" in done.stdout and ": 0 passed" in done.stdout
    # The deadline holds: the run's own duration, plus interpreter start-up and teardown.
    assert wall < 25 + 4, wall


def test_slow_target_semantic_checks_fail_with_a_clear_message(slow_url: str) -> None:
    report, wall = _timed(suite_config(mifumo_url=slow_url, schema_checks=False, timeout=0.2, deadline=8))
    assert report.exit_code == 1
    timeouts = [r for r in report.failures if r.message == "no response within 0.2s (--timeout)"]
    assert timeouts and all(r.curl.startswith("curl") and r.got == "no response within 0.2s" for r in timeouts)
    assert not [r for r in report.results if r.status is Status.PASSED]
    # One root cause, reported once: the checks after the first timeout are blocked by it, not failed again.
    first = timeouts[0].check
    rest = [r for r in report.results if r.check != first]
    assert rest and all(r.status is Status.BLOCKED and r.blocked_by == first for r in rest)
    assert "Timeout" not in render(report)
    assert wall < 8.5, wall


# --- the deadline --------------------------------------------------------------------------------------


def test_deadline_reached_fails_the_run_and_passes_nothing(slow_url: str) -> None:
    report, wall = _timed(suite_config(wepay_url=slow_url, schema_checks=False, timeout=1.0, deadline=1.2))
    # Slack for what cannot be interrupted (thread and socket teardown), not for another request.
    assert wall < 1.2 + 1.0, wall
    assert report.deadline_reached and report.exit_code == 1 and not report.passed
    assert not [r for r in report.results if r.status is Status.PASSED]
    not_run = [r for r in report.results if r.status is Status.SKIPPED]
    assert not_run and all("deadline" in r.message for r in not_run)
    text = render(report)
    assert "deadline reached (--deadline 1.2s)" in text and "NOT CONFORMANT (deadline reached" in text
    xml = to_xml(report).getroot()
    assert xml.find("./testsuite[@name='run']/testcase[@name='deadline']/failure") is not None


def test_deadline_during_schema_checks_passes_no_schema_check(slow_url: str) -> None:
    report, wall = _timed(suite_config(wepay_url=slow_url, timeout=0.3, deadline=2, max_examples=5))
    assert wall < 2 + 2.0, wall  # unbounded, Schemathesis' phases would go on for many more 0.3 s timeouts
    assert report.deadline_reached and report.exit_code == 1
    assert not [r for r in report.results if r.status is Status.PASSED]


# --- HTML, dropped connections, redirects --------------------------------------------------------------


async def _html(request: StarletteRequest) -> Response:
    return HTMLResponse("<!doctype html><html><body><h1>Welcome to nginx!</h1></body></html>")


def test_html_answers_are_findings_not_a_crash() -> None:
    with serve_in_thread(_app(_html)) as url:
        report, wall = _timed(suite_config(mifumo_url=url, wepay_url=url, timeout=2, deadline=30, max_examples=2))
    assert report.exit_code == 1 and not report.deadline_reached
    failed = report.failed_checks()
    assert {"content_type_conformance", "mifumo_page_shape", "wepay_page_shape"} <= failed
    # The checks reading pages are blocked by the page-shape check, which reports the HTML once.
    blocked = {r.check: r.blocked_by for r in report.results if r.status is Status.BLOCKED}
    assert blocked["mifumo_values"] == "mifumo_page_shape" and blocked["wepay_values"] == "wepay_page_shape"
    assert wall < 30, wall


@contextlib.contextmanager
def _closing_server(answered: int) -> Iterator[str]:
    """Answers the first `answered` connections' requests (the preflight's, one per API, with an empty
    200); then accepts each connection, reads the request and closes without a byte of response. (One
    that never answers stops the run at the preflight: exit 2, tests/conformance/test_operator_errors.py.)"""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        left = answered
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(0.5)
                with contextlib.suppress(OSError):
                    conn.recv(65536)
                    if left:
                        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                left = max(0, left - 1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=2)
        listener.close()


def test_closed_connections_are_findings_not_a_crash() -> None:
    with _closing_server(answered=2) as url:
        report, wall = _timed(suite_config(mifumo_url=url, wepay_url=url, timeout=1, deadline=30, max_examples=2))
    # It accepts connections, so it is reachable: every check fails, none passes.
    assert report.exit_code == 1 and not report.deadline_reached
    assert report.results and not [r for r in report.results if r.status is Status.PASSED]
    semantic = [r for r in report.failures if r.kind == "semantic"]
    assert semantic and all(r.got == "the server closed the connection without a complete response" for r in semantic)
    assert {r.check for r in semantic} == {"mifumo_page_shape", "wepay_page_shape"}
    others = [r for r in report.results if r.kind == "semantic" and r.status is not Status.FAILED]
    assert others and all(r.status is Status.BLOCKED for r in others)
    assert "RemoteProtocolError" not in render(report)
    # Schemathesis' own repro for a case it could not test shows the secrets as the suite's variables.
    errors = [r for r in report.failures if r.check == "schema_request_errors"]
    secrets = [MOCK_CREDENTIALS.bearer_token, MOCK_CREDENTIALS.app_token, MOCK_CREDENTIALS.app_id]
    assert not [r.curl for r in report.failures if any(secret in r.curl for secret in secrets)]
    assert any("${BILLING_BEARER_TOKEN}" in r.curl for r in errors) and any(
        "${BILLING_APP_TOKEN}" in r.curl for r in errors
    )
    assert {r.operation for r in report.failures if r.check == "schema_request_errors"} >= {
        "GET /api/billing/history/",
        "GET /billing_statements",
    }
    assert wall < 30, wall


def test_redirects_are_findings_and_never_followed_to_another_host() -> None:
    elsewhere: list[str] = []
    seen: list[tuple[str, bool]] = []

    async def record(request: StarletteRequest) -> Response:
        elsewhere.append(request.url.path)
        return PlainTextResponse("you should not be here")

    with serve_in_thread(_app(record)) as other:
        # Another host name for the same machine, as a redirect to a login page or a CDN would be.
        target = other.replace("127.0.0.1", "localhost")

        async def redirect(request: StarletteRequest) -> Response:
            seen.append((request.url.path, "x-schemathesis-probe" in request.headers))
            if request.url.path.startswith("/same-host"):
                return PlainTextResponse("followed")
            # Half the answers point elsewhere, half at this very server.
            where = target if len(seen) % 2 else ""
            return RedirectResponse(f"{where}/same-host/login?next={request.url.path}", status_code=302)

        with serve_in_thread(_app(redirect)) as url:
            report, wall = _timed(suite_config(mifumo_url=url, wepay_url=url, timeout=2, deadline=30, max_examples=2))
    assert elsewhere == []
    # Not followed to the same host either, and Schemathesis' start-up probes (which follow) never sent.
    assert seen and not [path for path, _ in seen if path.startswith("/same-host")]
    assert not [path for path, probe in seen if probe]
    assert report.exit_code == 1 and not report.deadline_reached
    assert "status_code_conformance" in report.failed_checks()
    assert any("302" in r.got for r in report.failures if r.kind == "semantic")
    assert wall < 30, wall


# --- the rate cap --------------------------------------------------------------------------------------


def test_rate_limiter_never_exceeds_its_rate_in_any_second() -> None:
    limiter = Pacer(20)
    stamps = []
    started = time.monotonic()
    for round_ in range(40):
        # Bursts (Schemathesis' two probes) share the same cap.
        count = 2 if round_ % 10 == 0 else 1
        limiter.wait(count)
        stamps += [time.monotonic()] * count
    assert _max_in_window(stamps) <= 20
    assert time.monotonic() - started < 44 * (1 + RATE_MARGIN) / 20 + 1


def test_max_rate_holds_at_the_server_for_both_phases() -> None:
    seen: list[tuple[float, str]] = []

    async def count(request: Request, call) -> Reply:
        seen.append((time.monotonic(), request.path))
        return await call(request)

    rate = 40
    with serve_in_thread(Broken(create_app(MockConfig(seed=7)), count)) as url:
        report, wall = _timed(suite_config(wepay_url=url, max_examples=2, max_rate=rate, deadline=60))
    assert report.exit_code == 0, render(report)
    stamps = [stamp for stamp, _ in seen]
    schema_requests = sum(r.kind == "schema" for r in report.results)
    assert len(stamps) > 4 * rate and schema_requests
    assert _max_in_window(stamps) <= rate
    # The cap is what paced the run.
    assert wall >= (len(stamps) - rate) / rate
    assert wall < 60, wall


# --- 429 with Retry-After ------------------------------------------------------------------------------


@pytest.mark.parametrize("concurrency", [1, 4], ids=["one-at-a-time", "four-in-flight"])
@pytest.mark.parametrize("schema_checks", [False, True], ids=["semantic", "schema-and-semantic"])
def test_429_with_retry_after_is_waited_out_and_not_a_failure(schema_checks: bool, concurrency: int) -> None:
    throttled = {"left": 2}

    async def throttle(request: Request, call) -> Reply:
        if request.path.startswith("/billing_statements") and throttled["left"]:
            throttled["left"] -= 1
            return Reply(429, [("Retry-After", "1"), ("Content-Type", "text/plain")], b"slow down")
        return await call(request)

    with serve_in_thread(Broken(create_app(MockConfig(seed=7)), throttle)) as url:
        report, wall = _timed(
            suite_config(
                wepay_url=url, max_examples=2, schema_checks=schema_checks, deadline=60, concurrency=concurrency
            )
        )
    assert report.exit_code == 0, render(report)
    assert throttled["left"] == 0 and report.throttled == 2
    # Each throttled request waited its Retry-After (1 s) before being sent again: one after another the two
    # waits add up; in flight together they may overlap, and the time the run was held back counts once.
    if concurrency == 1:
        assert report.throttled_seconds == 2
    else:
        assert 1 <= report.throttled_seconds <= 2
    assert f"Waited out 2 429 answer(s) (Retry-After), {report.throttled_seconds:.1f}s" in render(report)
    assert report.throttled_seconds <= wall < 30, wall


def test_throttling_mock_is_waited_out_and_the_suite_passes() -> None:
    # The WePay semantic checks send about 50 list requests: past 30 in 10 s the mock answers 429.
    with running_mock(MockConfig(seed=7, controls=ControlSettings(rate_limit=True))) as mock:
        report, wall = _timed(suite_config(wepay_url=mock.url, schema_checks=False, deadline=40))
    assert report.exit_code == 0, render(report)
    assert report.throttled >= 1 and report.throttled_seconds > 0
    assert report.throttled_seconds <= wall < 40, wall


def test_429_wait_beyond_the_deadline_stops_at_the_deadline() -> None:
    async def throttle(request: Request, call) -> Reply:
        if request.path.startswith("/billing_statements"):
            return Reply(429, [("Retry-After", "30")], b"")
        return await call(request)

    with serve_in_thread(Broken(create_app(MockConfig(seed=7)), throttle)) as url:
        report, wall = _timed(suite_config(wepay_url=url, schema_checks=False, deadline=3))
    assert wall < 3 + 2.0, wall  # far from the 30 s Retry-After it would otherwise wait
    assert report.deadline_reached and report.exit_code == 1
    assert not [r for r in report.results if r.status is Status.PASSED]


def test_retry_after_forms() -> None:
    assert retry_after_seconds("3") == 3
    assert retry_after_seconds(" 0.5 ") == 0.5
    assert retry_after_seconds("-4") == 0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    assert 17 < (retry_after_seconds(later) or 0) <= 20


def test_sigterm_stops_a_run_at_once_with_no_verdict() -> None:
    """`docker stop` on the suite as a container's PID 1: the run stops within a second or two, says it is
    incomplete in one line, and exits 130 (neither conformant nor failing)."""
    slow = MockConfig(controls=ControlSettings(latency_ms=(150, 150)))
    with running_mock(slow) as mock:
        process = subprocess.Popen(
            [sys.executable, "-m", "conformance.cli", "--wepay-url", mock.url, "--quiet"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(4)
        assert process.poll() is None, "the run should still be going"
        stopped = time.monotonic()
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=15)
        wall = time.monotonic() - stopped
    assert process.returncode == 130, out + err
    last = err.strip().splitlines()[-1]
    assert last == "billing-conformance: interrupted (SIGTERM): the run is incomplete (no verdict)"
    assert "Traceback" not in err and "CONFORMANT" not in out
    assert wall < 5
