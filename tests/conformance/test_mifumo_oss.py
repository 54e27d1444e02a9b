"""The suite against a double of the open-source Mifumo backend (tests/doubles/mifumo_oss.py), as a backend
team's first run would meet it: the verdict is right, and so is the report — the shape violation once
with every schema error, the checks that need a readable page blocked by it, the parts of rules that need
no page still tested, no vacuous pass, no Python in messages, and repros that reproduce."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator

import pytest

from conformance import Status, SuiteConfig, SuiteReport, run_suite
from conformance.cli import main
from conformance.junit import to_xml
from conformance.render import render
from mock_server.testing import serve_in_thread
from tests.doubles.mifumo_oss import TOKEN, make_app

PAGE_CHECKS = {
    "mifumo_page_shape",
    "mifumo_pagination_integrity",
    "mifumo_previous_retraces",
    "mifumo_order",
    "mifumo_values",
    "mifumo_link_form",
    "mifumo_filter_matches",
    "mifumo_filter_counts",
    "mifumo_unknown_params_ignored",
    "mifumo_page_size",
}
PYTHON = re.compile(r"\b\w*(Error|Exception)\b|Traceback|\bNone\b|\bTrue\b|\bFalse\b|[\[{(]'")


@pytest.fixture(scope="module")
def oss_url() -> Iterator[str]:
    with serve_in_thread(make_app()) as url:
        yield url


@pytest.fixture(scope="module")
def progress_and_report(oss_url: str) -> tuple[list[str], SuiteReport]:
    lines: list[str] = []
    report = run_suite(SuiteConfig(mifumo_url=oss_url, bearer_token=TOKEN), lines.append)
    return lines, report


@pytest.fixture(scope="module")
def report(progress_and_report: tuple[list[str], SuiteReport]) -> SuiteReport:
    return progress_and_report[1]


def test_verdict_is_not_conformant(report: SuiteReport) -> None:
    assert report.exit_code == 1 and not report.deadline_reached


def test_the_shape_violation_is_reported_once_with_every_schema_error(report: SuiteReport) -> None:
    shape = [f for r in report.failures for f in r.findings if "`count`" in f.got]
    assert len(shape) == 1, [(f.message, f.got) for f in shape]
    got = shape[0].got
    for error in ("undocumented field(s) `data`, `success`", "`count` is missing", "`next` is missing",
                  "`previous` is missing", "`results` is missing"):  # fmt: skip
        assert error in got, got


def test_checks_needing_a_page_are_blocked_by_the_shape_failure(report: SuiteReport) -> None:
    blocked = {r.check: r for r in report.results if r.status is Status.BLOCKED}
    assert set(blocked) == PAGE_CHECKS
    assert {r.blocked_by for r in blocked.values()} == {"response_schema_conformance"}
    assert all(r.message.startswith("blocked by response_schema_conformance: ") for r in blocked.values())
    text = render(report)
    assert "10 blocked" in text and "Blocked (a rule they depend on" in text


def test_rules_that_need_no_page_are_still_tested(report: SuiteReport) -> None:
    invalid_page = report.result("GET /api/billing/history/", "mifumo_invalid_page")
    assert invalid_page.status is Status.FAILED
    messages = {f.message for f in invalid_page.findings}
    assert messages == {f"page={page} should be an invalid page" for page in ("0", "-1", "abc")}
    assert all(f.expected == "HTTP 404" and f.got.startswith("HTTP 200: ") for f in invalid_page.findings)
    params = report.result("GET /api/billing/history/", "mifumo_param_errors")
    assert params.status is Status.FAILED and len(params.findings) == 3  # every case, not the first
    assert report.result("GET /api/billing/history/", "mifumo_auth_errors").status is Status.PASSED


def test_no_vacuous_pass(report: SuiteReport) -> None:
    passed_schema = [r for r in report.results if r.kind == "schema" and r.status is Status.PASSED]
    assert passed_schema and all(re.fullmatch(r"[1-9]\d* case\(s\)", r.message) for r in passed_schema)
    # Schemathesis went on after the first failure: invalid input was sent (and accepted: a failure).
    assert report.result("GET /api/billing/history/", "negative_data_rejection").status is Status.FAILED
    assert report.result("GET /api/billing/history/", "unsupported_method").status is Status.PASSED
    for name in ("use_after_free", "ensure_resource_availability", "object_level_authorization"):
        result = report.result("GET /api/billing/history/", name)
        assert result.status is Status.SKIPPED and result.message.startswith("not exercised: ")


def test_messages_speak_the_apis_terms(report: SuiteReport) -> None:
    text = render(report)
    assert not PYTHON.search(text), PYTHON.search(text)


def test_score_counts_blocked_checks_against(report: SuiteReport) -> None:
    counts = report.counts("operation")["GET /api/billing/history/"]
    decided = counts[Status.PASSED] + counts[Status.FAILED] + counts[Status.BLOCKED]
    assert report.scores()["GET /api/billing/history/"] == pytest.approx(counts[Status.PASSED] / decided)
    line = next(x for x in render(report).splitlines() if x.strip().startswith("GET /api/billing/history/ "))
    assert f"{counts[Status.PASSED]} of {decided} checks passed" in line
    assert f"{counts[Status.BLOCKED]} blocked (counted against); {counts[Status.SKIPPED]} skipped (left out)" in line


def test_progress_lines_agree_with_the_tables(progress_and_report: tuple[list[str], SuiteReport]) -> None:
    lines, report = progress_and_report
    said = {}
    for line in lines:
        match = re.fullmatch(r"mifumo: (\w+)(?: on (.+))? (passed|failed|skipped|blocked)", line)
        if match:
            said[(match[1], match[2] or "GET /api/billing/history/")] = match[3]
    assert said == {(r.check, r.operation): r.status.value for r in report.results}


def _status_of(curl: str, env: dict[str, str]) -> int:
    done = subprocess.run(["bash", "-c", curl + " -s -o /dev/null -w '%{http_code}'".replace("-i", "")],
                          env=env, capture_output=True, text=True, timeout=20)  # fmt: skip
    return int(done.stdout.strip()[-3:])


def test_every_repro_uses_the_variables_and_reproduces(report: SuiteReport) -> None:
    findings = [f for r in report.failures for f in r.findings]
    assert findings
    env = {**os.environ, "BILLING_BEARER_TOKEN": TOKEN}
    for finding in findings:
        assert "${BILLING_BEARER_TOKEN}" in finding.curl and TOKEN not in finding.curl, finding.curl
        assert "[Filtered]" not in finding.curl
        answered = re.match(r"HTTP (\d{3})", finding.got)
        assert answered, finding.got
        assert _status_of(finding.curl, env) == int(answered[1]), finding.curl


def test_an_expired_token_is_a_usage_error(oss_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--mifumo-url", oss_url, "--bearer-token", TOKEN + "-expired", "--quiet"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert "rejected the Mifumo access token" in captured.err and "BILLING_BEARER_TOKEN" in captured.err
    assert '401 {"detail": "Given token not valid for any token type"' in captured.err


def test_junit_shows_blocked_apart_from_skipped(report: SuiteReport) -> None:
    root = to_xml(report).getroot()
    kinds = [e.get("type") for e in root.iter("skipped")]
    skipped = {r.check for r in report.results if r.status is Status.SKIPPED}
    # What a read-only contract cannot exercise (each operation), and Schemathesis' per-path probes.
    assert skipped == {
        "use_after_free",
        "ensure_resource_availability",
        "object_level_authorization",
        "unsupported_method",
        "allow_header_conformance",
    }
    assert kinds.count("blocked") == 10 and kinds.count("skipped") == sum(
        r.status is Status.SKIPPED for r in report.results
    )
    failure = root.find(".//testcase[@name='mifumo_invalid_page']/failure")
    assert failure is not None and failure.text and failure.text.count("reproduce: curl") == 3


def test_without_schemathesis_the_page_shape_check_reports_the_root_cause(oss_url: str) -> None:
    report = run_suite(SuiteConfig(mifumo_url=oss_url, bearer_token=TOKEN, schema_checks=False))
    shape = report.result("GET /api/billing/history/", "mifumo_page_shape")
    assert shape.status is Status.FAILED and "`count` is missing" in shape.got and "`data`, `success`" in shape.got
    blocked = {r.check: r.blocked_by for r in report.results if r.status is Status.BLOCKED}
    assert set(blocked) == PAGE_CHECKS - {"mifumo_page_shape"}
    assert set(blocked.values()) == {"mifumo_page_shape"}
