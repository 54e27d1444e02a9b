"""The suite's reports on every ending, as a CI job gets them: `billing-conformance` run as a subprocess with
--junit-xml, --report-json and --report-html, exiting 0 (conformant), 1 (failures), 2 (credentials refused,
target unreachable, a bad flag) and 130 (SIGINT). Each JSON report is validated against the schema the
package ships; JUnit cases carry their own times; failures carry the exchange, secrets masked."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from conformance.reporting import SCHEMA_PATH
from mock_server import MockConfig, create_app
from mock_server.controls import ControlSettings
from mock_server.testing import RunningMock, free_port, running_mock, serve_in_thread
from tests.broken.asgi import Broken, Call, Reply, Request
from tests.doubles.mifumo_oss import TOKEN, make_app
from tests.support import MOCK_CREDENTIALS

ROOT = Path(__file__).resolve().parents[2]
SECRETS = (MOCK_CREDENTIALS.bearer_token, MOCK_CREDENTIALS.app_token)
SCHEMA = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def mock() -> Iterator[RunningMock]:
    with running_mock(MockConfig(seed=7)) as running:
        yield running


class Reports:
    """The three report files of one run, and the run's exit code and output."""

    def __init__(self, folder: Path) -> None:
        self.junit, self.json_path, self.html = folder / "run.xml", folder / "run.json", folder / "run.html"

    @property
    def flags(self) -> list[str]:
        return ["--junit-xml", str(self.junit), "--report-json", str(self.json_path), "--report-html", str(self.html)]

    def json(self) -> dict[str, Any]:
        report = json.loads(self.json_path.read_text(encoding="utf-8"))
        Draft202012Validator(SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(report)
        return report

    def xml(self) -> ET.Element:
        return ET.parse(self.junit).getroot()

    def text(self) -> str:
        return "".join(path.read_text(encoding="utf-8") for path in (self.junit, self.json_path, self.html))


def _cli(reports: Reports, *argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "conformance.cli", *argv, *reports.flags]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=180, env=env)


def _checks(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(op["operation"], check["check"]): check for op in report["operations"] for check in op["checks"]}


def test_the_schema_is_valid_and_rejects_what_it_should() -> None:
    Draft202012Validator.check_schema(SCHEMA)
    validator = Draft202012Validator(SCHEMA)
    assert not validator.is_valid({"format": "billing-conformance-report", "format_version": 1, "operations": []})
    assert not validator.is_valid({"format": "something-else", "format_version": 1, "run": {}, "operations": []})


# --- exit 0 --------------------------------------------------------------------------------------------


def test_a_conformant_run_writes_every_report_with_real_times(mock: RunningMock, tmp_path: Path) -> None:
    reports = Reports(tmp_path)
    done = _cli(reports, "--mifumo-url", mock.url, "--wepay-url", mock.url, "--max-examples", "5", "--seed", "3",
                "--quiet")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    report = reports.json()
    run = report["run"]
    assert (run["state"], run["exit_code"], run["verdict"], run["reason"]) == ("passed", 0, "CONFORMANT", None)
    assert run["targets"] == {"mifumo": mock.url, "wepay": mock.url} and run["seed"] == 3
    assert run["versions"]["schemathesis"] == metadata.version("schemathesis")
    assert run["versions"]["python"] == ".".join(map(str, sys.version_info[:3]))
    assert run["settings"]["max_examples"] == 5 and run["duration"] > 0
    assert {op["score"] for op in report["operations"]} == {1.0}
    # The JUnit file holds the same checks in the same states, each with its own time.
    cases = reports.xml().findall(".//testcase")
    checks = _checks(report)
    states = {(c.get("classname", "").split(".", 1)[1], c.get("name")): _junit_state(c) for c in cases}
    assert states == {key: check["state"] for key, check in checks.items()}
    times = {(c.get("classname"), c.get("name")): float(c.get("time", "0")) for c in cases}
    # Every Schemathesis check took the time of its cases; a semantic check its own (one reusing a walk
    # another check made may take under a millisecond).
    schema = {key: checks[(key[0].split(".", 1)[1], key[1])]["kind"] == "schema" for key in times}
    assert all(t > 0 for key, t in times.items() if schema[key])
    assert sum(t > 0 for t in times.values()) >= len(times) * 3 // 4 and len(set(times.values())) > 5
    assert times[("wepay.GET /billing_statements", "wepay_page_shape")] > 0
    assert "CONFORMANT" in reports.html.read_text(encoding="utf-8")


def _junit_state(case: ET.Element) -> str:
    if case.find("failure") is not None:
        return "failed"
    skipped = case.find("skipped")
    return "passed" if skipped is None else str(skipped.get("type"))


# --- exit 1 --------------------------------------------------------------------------------------------


async def _ignores_every_query_parameter(request: Request, call: Call) -> Reply:
    """WePay that answers page 1 whatever the query: every invalid parameter is accepted."""
    return await call(request.with_query([]))


@pytest.fixture(scope="module")
def lenient_wepay() -> Iterator[str]:
    with serve_in_thread(Broken(create_app(MockConfig(seed=7)), _ignores_every_query_parameter)) as url:
        yield url


def test_every_failing_input_is_a_finding_with_its_exchange(lenient_wepay: str, tmp_path: Path) -> None:
    """negative_data_rejection lists each distinct input that was accepted (20, then "and N more"), each with
    its repro and the exchange; the semantic checks' failures carry theirs; secrets never appear."""
    reports = Reports(tmp_path)
    done = _cli(reports, "--wepay-url", lenient_wepay, "--max-examples", "60", "--quiet")
    assert done.returncode == 1, done.stdout + done.stderr
    report = reports.json()
    assert report["run"]["state"] == "failed" and report["run"]["exit_code"] == 1
    rejection = _checks(report)[("GET /billing_statements", "negative_data_rejection")]
    findings = rejection["findings"]
    assert len(findings) == 20 and rejection["findings_omitted"] >= 1
    assert len({f["repro"] for f in findings}) == 20  # one per distinct input
    for finding in findings:
        sent, answer = finding["exchange"]["request"], finding["exchange"]["response"]
        assert sent["method"] == "GET" and f"'{sent['url']}'" in finding["repro"]
        assert ["App-Token", "${BILLING_APP_TOKEN}"] in sent["headers"]
        assert answer["status"] == 200 and '"results"' in answer["body"]
    omitted = rejection["findings_omitted"]
    assert f"… and {omitted} more distinct failure(s) of negative_data_rejection" in done.stdout
    failure = reports.xml().find(".//testcase[@name='negative_data_rejection']/failure")
    assert failure is not None and failure.text and f"and {omitted} more distinct failure(s)" in failure.text
    # A semantic check's failure: the request it sent and the answer it got.
    params = _checks(report)[("GET /billing_statements", "wepay_param_errors")]
    assert params["state"] == "failed"
    semantic = params["findings"][0]["exchange"]
    assert ["App-Token", "${BILLING_APP_TOKEN}"] in semantic["request"]["headers"]
    assert semantic["response"]["status"] == 200 and semantic["response"]["headers"]
    assert not [secret for secret in SECRETS if secret in reports.text()]


def test_the_score_counts_blocked_checks_against(tmp_path: Path) -> None:
    """A backend whose every page body has the wrong shape scores low: the checks its shape blocks count
    against it (passed / (passed + failed + blocked)); skipped ones are left out."""
    reports = Reports(tmp_path)
    with serve_in_thread(make_app()) as url:
        done = _cli(reports, "--mifumo-url", url, "--bearer-token", TOKEN, "--quiet")
    assert done.returncode == 1, done.stdout + done.stderr
    history = next(op for op in _report_ops(reports) if op["operation"] == "GET /api/billing/history/")
    counts = history["counts"]
    assert counts["blocked"] >= 9
    decided = counts["passed"] + counts["failed"] + counts["blocked"]
    assert history["score"] == pytest.approx(counts["passed"] / decided)
    assert history["score"] < 0.5 < counts["passed"] / (counts["passed"] + counts["failed"])  # the old, flattering one
    line = next(x for x in done.stdout.splitlines() if x.strip().startswith("GET /api/billing/history/ "))
    assert f"{history['score']:.1%}" in line and f"{counts['blocked']} blocked (counted against)" in line
    assert f"score {history['score']:.1%}" in reports.html.read_text(encoding="utf-8")


def _report_ops(reports: Reports) -> list[dict[str, Any]]:
    return reports.json()["operations"]


# --- exit 2 --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ending", ["credentials-refused", "unreachable", "bad-flag"])
def test_a_usage_error_is_a_report_saying_so(ending: str, mock: RunningMock, tmp_path: Path) -> None:
    reports = Reports(tmp_path)
    argv = {
        "credentials-refused": ["--wepay-url", mock.url, "--app-token", "not-the-token"],
        "unreachable": ["--mifumo-url", f"http://127.0.0.1:{free_port()}"],
        "bad-flag": ["--wepay-url", mock.url, "--max-examples", "many"],
    }[ending]
    done = _cli(reports, *argv, "--quiet")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == "" and done.stderr.count("\n") == 1
    reason = done.stderr.removeprefix("billing-conformance: error: ").strip()
    report = reports.json()
    assert report["run"]["state"] == "error" and report["run"]["exit_code"] == 2
    assert report["run"]["reason"] == reason and report["operations"] == []
    suites = reports.xml().findall("testsuite")
    assert [s.get("name") for s in suites] == ["run"]
    error = suites[0].find("testcase[@name='error']/error")
    assert error is not None and error.get("message") == reason
    assert reports.xml().get("errors") == "1" and reports.xml().get("tests") == "1"
    page = reports.html.read_text(encoding="utf-8")
    assert "NO VERDICT (usage error)" in page and reason.split(":")[0] in page
    assert "not-the-token" not in reports.text()


# --- exit 130 ------------------------------------------------------------------------------------------


def test_ctrl_c_says_why_first_and_the_reports_list_what_did_not_run(tmp_path: Path) -> None:
    """SIGINT in the middle of the semantic checks: the line saying the run was interrupted is the next
    thing printed (the checks not run go to the reports, not the terminal), exit 130, and each report
    says the run was interrupted and lists every check left as not run."""
    reports = Reports(tmp_path)
    slow = MockConfig(seed=7, controls=ControlSettings(latency_ms=(40, 40)))
    with running_mock(slow) as mock:
        command = [sys.executable, "-m", "conformance.cli", "--wepay-url", mock.url, "--max-examples", "2",
                   *reports.flags]  # fmt: skip
        pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
        process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}, **pipes)
        assert process.stderr is not None
        seen = []
        deadline = time.monotonic() + 90
        while not any(line.startswith("... wepay: wepay_page_shape ") for line in seen):
            assert time.monotonic() < deadline and process.poll() is None, seen
            seen.append(process.stderr.readline().rstrip("\n"))
        process.send_signal(signal.SIGINT)
        out, rest = process.communicate(timeout=30)
    assert process.returncode == 130, out + rest
    after = rest.strip().splitlines()
    said = "billing-conformance: interrupted (SIGINT): the run is incomplete (no verdict)"
    assert after[-1] == said and not [line for line in after if line.endswith(" skipped")], after
    assert len(after) <= 2, after  # at most the check that was finishing as the signal came, then why
    assert out == "" and "Traceback" not in rest
    report = reports.json()
    assert report["run"]["state"] == "interrupted" and report["run"]["exit_code"] == 130
    assert report["run"]["reason"] == said.removeprefix("billing-conformance: ")
    checks = _checks(report)
    not_run = [c for c in checks.values() if c["message"] == "not run: the run was interrupted"]
    assert len(not_run) >= 10 and all(c["state"] == "skipped" and c["cut_short"] for c in not_run)
    assert {op["score"] for op in report["operations"]} == {None}  # no score for an unfinished run
    run_case = reports.xml().find("testsuite[@name='run']/testcase[@name='interrupted']/error")
    assert run_case is not None and "SIGINT" in str(run_case.get("message"))
    assert "NO VERDICT (interrupted)" in reports.html.read_text(encoding="utf-8")
