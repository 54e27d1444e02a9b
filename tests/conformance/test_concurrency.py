"""Requests in flight together (--concurrency): the same verdict and report whatever N, each request sent
once, checks independent of their order, the WePay limit kept when the suite is told it, the option read
like every other. Over real sockets against the mock and broken wrappers of it; nothing here is timed
(the speed is measured in bench/suite.py)."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from conformance import Status, SuiteReport, run_suite
from conformance import runner as runner_module
from conformance.checks import checks_for
from conformance.cli import main
from conformance.concurrency import WaitingGate
from conformance.config import DEFAULT_CONCURRENCY, config_from_options
from conformance.errors import UsageError
from conformance.pacing import Pacer
from conformance.render import render
from mock_server import MockConfig, create_app
from mock_server.controls import ControlSettings
from mock_server.testing import running_mock, serve_in_thread
from tests.broken.asgi import Broken, Call, Handler, Reply, Request
from tests.broken.impls import BROKEN, HISTORY, STATEMENTS, json_rewrite
from tests.support import MOCK_SUITE_ENV, suite_config

ROOT = Path(__file__).resolve().parents[2]
# Request headers that say nothing about which request it is.
NOISE = {"user-agent", "accept", "accept-encoding", "connection", "content-length", "host"}


def _chain(*handlers: Handler) -> Handler:
    """One broken implementation made of several: each handler wraps the ones after it."""

    async def handler(request: Request, call: Call) -> Reply:
        async def inner(request: Request, rest: tuple[Handler, ...]) -> Reply:
            if not rest:
                return await call(request)
            return await rest[0](request, lambda next_request: inner(next_request, rest[1:]))

        return await inner(request, handlers)

    return handler


async def _probe_hangs(request: Request, call: Call) -> Reply:
    """Mifumo requests carrying the suite's probe parameter get no answer within the run's --timeout: the
    two checks sending one get no response, and are settled in registered order."""
    if request.path == HISTORY and request.param("conformance_probe") is not None:
        await asyncio.sleep(3)
    return await call(request)


def _broken(name: str) -> Handler:
    """A catalogue breakage, on GET requests only (some rewrite bodies only a GET answers with)."""
    broken = next(impl.handler for impl in BROKEN if impl.name == name)

    async def handler(request: Request, call: Call) -> Reply:
        return await (broken(request, call) if request.method == "GET" else call(request))

    return handler


# Broken on many rules at once, both APIs, Schemathesis' checks and the semantic ones.
SEVERAL = _chain(
    _probe_hangs,
    _broken("usage_amount_positive"),
    _broken("wrong_www_authenticate"),
    _broken("server_error_on_bad_input"),
    _broken("no_correlation_id_on_errors"),
    # Outside the next one, which finds the page before through `previous`.
    json_rewrite(STATEMENTS, lambda body, _: {**body, "previous": None}),
    _broken("duplicates_across_pages"),
)


def _comparable(report: SuiteReport) -> str:
    """The rendered report without what may differ between runs: durations."""
    return re.sub(r" in \d+\.\ds,", " in <duration>,", render(report))


@pytest.fixture(scope="module")
def several_broken_url():
    with serve_in_thread(Broken(create_app(MockConfig(seed=7)), SEVERAL)) as url:
        yield url


@pytest.fixture(scope="module")
def reports(several_broken_url: str) -> dict[int, SuiteReport]:
    def run(concurrency: int) -> SuiteReport:
        config = suite_config(
            mifumo_url=several_broken_url,
            wepay_url=several_broken_url,
            max_examples=5,
            seed=11,
            timeout=1,
            concurrency=concurrency,
        )
        return run_suite(config)

    return {n: run(n) for n in (1, 8)}


def test_the_broken_target_fails_several_checks_of_both_kinds(reports: dict[int, SuiteReport]) -> None:
    report = reports[1]
    failed = report.failed_checks()
    assert {"not_a_server_error", "mifumo_values", "mifumo_auth_errors", "wepay_correlation_id"} <= failed
    assert {"wepay_pagination_integrity", "wepay_previous_retraces"} <= failed
    # The two probe requests got no response: the first check in registered order fails, the other is blocked.
    link_form = report.result("GET /api/billing/history/", "mifumo_link_form")
    unknown = report.result("GET /api/billing/history/", "mifumo_unknown_params_ignored")
    assert link_form.status is Status.FAILED and link_form.message == "no response within 1s (--timeout)"
    assert unknown.status is Status.BLOCKED and unknown.blocked_by == "mifumo_link_form"


def test_same_seed_same_cases_failures_and_report_with_1_and_8_in_flight(reports: dict[int, SuiteReport]) -> None:
    one, eight = reports[1], reports[8]
    assert eight.case_fingerprints == one.case_fingerprints and one.case_fingerprints
    assert [(r.api, r.operation, r.check, r.status) for r in eight.results] == [
        (r.api, r.operation, r.check, r.status) for r in one.results
    ]

    # Each finding as the report words it; its recorded exchange carries the answer's own date and
    # X-Correlation-Id, which differ from one request to the next whatever the concurrency.
    def worded(report: SuiteReport) -> list[tuple[str, list[tuple[str, str, str, str]]]]:
        return [(r.check, [(f.message, f.expected, f.got, f.curl) for f in r.findings]) for r in report.failures]

    assert worded(eight) == worded(one)
    assert _comparable(eight) == _comparable(one)


def test_the_requests_counted_are_the_same_whatever_ran_first(reports: dict[int, SuiteReport]) -> None:
    one, eight = reports[1], reports[8]
    assert one.requests == eight.requests > 0
    assert one.requests_by_api == eight.requests_by_api
    assert [r.requests for r in one.results] == [r.requests for r in eight.results]
    summary = render(eight).splitlines()[-1]
    assert summary.endswith(f", {eight.requests} requests")


def _recording(log: list[tuple[str, str, tuple[tuple[str, str], ...]]]) -> Handler:
    async def record(request: Request, call: Call) -> Reply:
        query = tuple(sorted(request.query))
        headers = tuple(sorted((k, v) for k, v in request.headers.items() if k not in NOISE))
        log.append((request.method, f"{request.path}?{query}", headers))
        return await call(request)

    return record


@pytest.mark.parametrize("phase", ["semantic", "schema"])
def test_each_safe_request_is_sent_once_per_run(phase: str) -> None:
    received: list[tuple[str, str, tuple[tuple[str, str], ...]]] = []
    with serve_in_thread(Broken(create_app(MockConfig(seed=7)), _recording(received))) as url:
        report = run_suite(
            suite_config(
                mifumo_url=url,
                wepay_url=url,
                concurrency=8,
                max_examples=5,
                schema_checks=phase == "schema",
                semantic_checks=phase == "semantic",
            )
        )
    assert report.passed, render(report)
    # The preflight's page 1 goes through another client than the checks': it is the one request made twice.
    preflight = 2
    assert report.requests == len(received)
    repeated = {
        request: n for request, n in Counter(received).items() if n > 1 and request[0] in ("GET", "HEAD", "OPTIONS")
    }
    assert sum(n - 1 for n in repeated.values()) <= preflight, repeated


def test_checks_depend_on_page_one_not_on_their_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages in another envelope: every walking check is blocked by the page-shape check, even when it runs
    before it (here: every check in the reverse of the registered order, one at a time)."""

    def data_envelope(body: dict, _: object) -> dict:
        return {"data": body["results"], "api_version": body["api_version"]}

    def statuses(report: SuiteReport) -> dict[str, tuple[Status, str]]:
        return {r.check: (r.status, r.blocked_by) for r in report.results}

    app = Broken(create_app(MockConfig(seed=7)), json_rewrite(STATEMENTS, data_envelope))
    with serve_in_thread(app) as url:
        config = suite_config(wepay_url=url, schema_checks=False, concurrency=1)
        in_order = run_suite(config)
        monkeypatch.setattr(runner_module, "checks_for", lambda api: list(reversed(checks_for(api))))
        reversed_order = run_suite(config)
    assert reversed_order.results[-1].check == "wepay_page_shape"
    assert statuses(reversed_order) == statuses(in_order)
    blocked = {check for check, (status, by) in statuses(in_order).items() if status is Status.BLOCKED}
    assert {"wepay_pagination_integrity", "wepay_order", "wepay_values"} <= blocked
    assert {by for _, (status, by) in statuses(in_order).items() if status is Status.BLOCKED} == {"wepay_page_shape"}


def test_told_the_wepay_limit_the_suite_meets_no_429_with_eight_in_flight() -> None:
    """The mock's --rate-limit (WePay's 30 requests per operation per 10 s): at --max-rate 3 no request is
    throttled, although the checks send more than 30 list requests (unpaced, the mock answers 429s:
    test_hostile_targets.py::test_throttling_mock_is_waited_out_and_the_suite_passes)."""
    # The error checks are left out: their requests are refused before the mock's throttle counts them.
    errors = frozenset({"wepay_auth_errors", "wepay_param_errors", "wepay_correlation_id"})
    with running_mock(MockConfig(seed=7, controls=ControlSettings(rate_limit=True))) as mock:
        config = suite_config(wepay_url=mock.url, schema_checks=False, concurrency=8, max_rate=3, exclude_checks=errors)
        report = run_suite(config)
        log = httpx.get(f"{mock.url}/__mock/requests", timeout=10).json()["requests"]
    assert report.passed, render(report)
    assert report.throttled == 0
    statuses = Counter(entry["status"] for entry in log if entry["path"].startswith(STATEMENTS))
    assert statuses[429] == 0 and sum(statuses.values()) > 30, statuses


def test_rate_limiter_holds_its_rate_across_threads() -> None:
    pacer = Pacer(20)
    stamps: list[float] = []
    lock = threading.Lock()

    def client() -> None:
        for _ in range(6):
            pacer.wait()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stamps.sort()
    assert len(stamps) == 48
    # Never more than 20 started in any one second, whichever thread started them.
    assert all(later - stamps[i] >= 1.0 for i, later in enumerate(stamps[20:]))


def test_a_run_imports_nothing_more_of_schemathesis_once_started() -> None:
    """Engines side by side never import a Schemathesis or Hypothesis module from two threads at once: the
    ones a run imports on first use are imported before any engine starts (schema_checks.LAZY_IMPORTS)."""
    script = (
        "import sys\n"
        "from conformance.schema_checks import LAZY_IMPORTS, quiet_schemathesis\n"
        "from conformance.tls import TlsSettings\n"
        "from conformance import run_suite\n"
        "from mock_server import MockConfig\n"
        "from mock_server.testing import running_mock\n"
        "from tests.support import suite_config\n"
        "config = suite_config(mifumo_url='http://127.0.0.1:9', concurrency=1)\n"
        "with quiet_schemathesis(TlsSettings.from_config(config)):\n"
        "    before = set(sys.modules)\n"
        "with running_mock(MockConfig(seed=7)) as mock:\n"
        "    run_suite(suite_config(mifumo_url=mock.url, wepay_url=mock.url, max_examples=5, concurrency=1))\n"
        "new = sorted(m for m in set(sys.modules) - before if m.split('.')[0] in ('schemathesis', 'hypothesis'))\n"
        "print(new)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_concurrency_is_an_option_like_the_others(capsys: pytest.CaptureFixture[str]) -> None:
    target = {"wepay_url": "http://127.0.0.1:9"}
    env = dict(MOCK_SUITE_ENV)
    assert config_from_options(target, env).concurrency == DEFAULT_CONCURRENCY
    assert config_from_options(target, {**env, "BILLING_CONCURRENCY": "2"}).concurrency == 2
    assert config_from_options({**target, "concurrency": 6}, {**env, "BILLING_CONCURRENCY": "2"}).concurrency == 6
    with pytest.raises(UsageError, match="BILLING_CONCURRENCY='many' is not a valid int"):
        config_from_options(target, {**env, "BILLING_CONCURRENCY": "many"})
    # Refused before any request: nothing listens on port 9.
    assert main(["--wepay-url", "http://127.0.0.1:9", "--concurrency", "0", "--quiet"]) == 2
    assert capsys.readouterr().err == "billing-conformance: error: --concurrency must be from 1 to 32\n"


def test_schemathesis_engines_take_turns_until_answers_are_slow() -> None:
    """The gate the run's Schemathesis engines pass: alone while answers come fast (side by side they would
    only contend for the interpreter), together once 8 answers in a row took 25 ms or more."""
    gate = WaitingGate()
    inside = threading.Event()
    second_in = threading.Event()

    def second() -> None:
        with gate.turn():
            second_in.set()

    with gate.turn():
        inside.set()
        waiting = threading.Thread(target=second, daemon=True)
        waiting.start()
        for seconds in [0.2] * 7 + [0.001]:  # one fast answer among them: still closed
            gate.observe(seconds)
        assert not gate.is_open and not second_in.wait(0.3)
        for _ in range(8):
            gate.observe(0.2)
        assert gate.is_open and second_in.wait(5)
    waiting.join(5)
