"""The suite against the mock over a real socket: no false alarms, exit codes, reports, reproducibility."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance import Status, SuiteConfig, UsageError, run_suite
from conformance.checks import checks_for
from conformance.cli import main
from conformance.pytest_plugin import suite_config as plugin_suite_config
from fixtures import DatasetSize
from mock_server import MockConfig, create_app
from mock_server.testing import RunningMock, free_port, running_mock, serve_in_thread
from tests.broken.asgi import Broken
from tests.broken.impls import BROKEN
from tests.support import MOCK_SUITE_ENV, suite_config

ROOT = Path(__file__).resolve().parents[2]
FAST = ["--max-examples", "5", "--quiet"]


@pytest.fixture(scope="module")
def mock() -> Iterator[RunningMock]:
    with running_mock(MockConfig(seed=7)) as running:
        yield running


@pytest.fixture(scope="module")
def full_report(mock: RunningMock):
    return run_suite(suite_config(mifumo_url=mock.url, wepay_url=mock.url, max_examples=10, seed=3))


def test_every_check_passes_against_the_mock(full_report) -> None:
    assert full_report.failures == [], "\n".join(f"{f.check}: {f.message} {f.got}" for f in full_report.failures)
    semantic = {r.check for r in full_report.results if r.kind == "semantic"}
    assert semantic == {c.name for api in ("mifumo", "wepay") for c in checks_for(api)}
    assert all(r.status is Status.PASSED for r in full_report.results if r.kind == "semantic")
    schema = {r.check for r in full_report.results if r.kind == "schema"}
    assert {
        "not_a_server_error",
        "positive_data_acceptance",
        "negative_data_rejection",
        "ignored_auth",
        "missing_required_header",
        "unsupported_method",
        "response_schema_conformance",
    } <= schema
    assert set(full_report.scores().values()) == {1.0}


def test_same_seed_same_verdict_and_cases(mock: RunningMock, full_report) -> None:
    again = run_suite(suite_config(mifumo_url=mock.url, wepay_url=mock.url, max_examples=10, seed=3))
    assert again.verdict() == full_report.verdict()
    assert again.case_fingerprints == full_report.case_fingerprints
    assert full_report.case_fingerprints


def test_only_the_given_api_is_tested(mock: RunningMock) -> None:
    report = run_suite(suite_config(wepay_url=mock.url, schema_checks=False))
    assert {r.api for r in report.results} == {"wepay"}
    assert report.passed


def test_tiny_dataset_skips_what_it_cannot_decide() -> None:
    tiny = MockConfig(seed=1, size=DatasetSize(records=1, statements=1, accounts=1))
    with running_mock(tiny) as running:
        report = run_suite(suite_config(mifumo_url=running.url, wepay_url=running.url, schema_checks=False))
    assert report.passed, [(f.check, f.message) for f in report.failures]
    skipped = {r.check for r in report.results if r.status is Status.SKIPPED}
    assert {"mifumo_pagination_integrity", "mifumo_order", "wepay_previous_retraces", "wepay_cursor_tamper"} <= skipped
    assert all(r.message for r in report.results if r.status is Status.SKIPPED)


def test_cli_in_process_exit_0_and_junit(mock: RunningMock, tmp_path: Path, capsys) -> None:
    junit = tmp_path / "report.xml"
    code = main(["--mifumo-url", mock.url, "--wepay-url", mock.url, "--junit-xml", str(junit), *FAST])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "CONFORMANT" in out and "Conformance score per operation" in out
    root = ET.parse(junit).getroot()
    cases = root.findall(".//testcase")
    assert {c.get("name") for c in cases} >= {"mifumo_order", "wepay_cursor_tamper", "not_a_server_error"}
    assert root.get("failures") == "0"


def test_cli_exclude_check_and_failure_exit_1(capsys) -> None:
    impl = next(b for b in BROKEN if b.name == "relative_links")
    with serve_in_thread(Broken(create_app(MockConfig(seed=7)), impl.handler)) as url:
        code = main(["--mifumo-url", url, "--exclude-check", "mifumo_order", *FAST])
    out = capsys.readouterr().out
    assert code == 1
    assert (
        ": mifumo_link_form on GET /api/billing/history/ (semantic)" in out
        and "reproduce: curl" in out
        and "expected:" in out
    )
    assert "mifumo_order" not in out


@pytest.mark.parametrize(
    ("argv", "status", "named"),
    [
        (["--bearer-token", "expired"], 401, "BILLING_BEARER_TOKEN"),
        (["--app-token", "wrong"], 403, "BILLING_APP_TOKEN"),
    ],
    ids=["mifumo", "wepay"],
)
def test_cli_rejected_credentials_are_a_usage_error(
    mock: RunningMock, argv: list[str], status: int, named: str, capsys
) -> None:
    # An expired token is the operator's problem, not the backend's: one line, exit 2, no check run.
    api = "mifumo" if status == 401 else "wepay"
    assert main([f"--{api}-url", mock.url, *argv, *FAST]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    line = captured.err
    assert line.count("\n") == 1 and line.startswith(f"billing-conformance: error: {api} target")
    assert named in line and f"answered {status} " in line and '{"' in line


@pytest.mark.parametrize(
    "argv",
    [[], ["--mifumo-url", "ftp://x"], ["--max-examples", "zero", "--mifumo-url", "http://x"]],
    ids=["no-target", "bad-scheme", "bad-number"],
)
def test_cli_usage_errors_exit_2(argv: list[str], capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error:" in err and "Traceback" not in err


def test_cli_unreachable_target_exits_2(capsys) -> None:
    assert main(["--wepay-url", f"http://127.0.0.1:{free_port()}", "--quiet"]) == 2
    assert "unreachable" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--mifumo-url", "http://127.0.0.1:9"], "BILLING_BEARER_TOKEN"),
        (["--wepay-url", "http://127.0.0.1:9"], "--app-id"),
    ],
    ids=["mifumo", "wepay"],
)
def test_cli_without_credentials_is_a_usage_error(
    argv: list[str], named: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    # The suite checks real backends: it never falls back to the mock's credentials.
    for name in MOCK_SUITE_ENV:
        monkeypatch.delenv(name)
    assert main([*argv, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and named in err


def test_config_requires_a_target() -> None:
    with pytest.raises(UsageError):
        SuiteConfig()


def test_cli_as_subprocess_with_env_vars(mock: RunningMock, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "BILLING_MIFUMO_URL": mock.url,
        "BILLING_WEPAY_URL": mock.url,
        "BILLING_MAX_EXAMPLES": "5",
        "BILLING_SEED": "11",
    }
    done = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "--quiet", "--junit-xml", str(tmp_path / "j.xml")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "j.xml").exists()


def test_pytest_plugin_is_inert_without_its_options(request: pytest.FixtureRequest) -> None:
    # This very session loads the plugin through its entry point, without any --conformance-* option.
    assert plugin_suite_config(request.config) is None
    assert not [item for item in request.session.items if item.name.startswith("conformance[")]


def test_pytest_plugin_runs_the_suite_when_asked(mock: RunningMock, tmp_path: Path) -> None:
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--rootdir",
        str(tmp_path),
        str(tmp_path),
        "--conformance-wepay-url",
        mock.url,
        "--conformance-max-examples",
        "5",
    ]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout
    # The file's own test, one item for the Schemathesis checks, one per semantic check.
    assert f"{1 + 1 + len(checks_for('wepay'))} passed" in done.stdout


def test_deadline_skips_instead_of_hanging(mock: RunningMock) -> None:
    report = run_suite(suite_config(wepay_url=mock.url, schema_checks=False, deadline=0.001, max_rate=1000))
    assert report.results and all(r.status is Status.SKIPPED for r in report.results)


def _plugin_run(tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(tmp_path)]
    return subprocess.run([*argv, *options], cwd=tmp_path, capture_output=True, text=True, timeout=120)


def test_pytest_plugin_takes_timeout_rate_and_exclusions(mock: RunningMock, tmp_path: Path) -> None:
    excluded = checks_for("wepay")[0].name
    done = _plugin_run(
        tmp_path, "--conformance-wepay-url", mock.url, "--conformance-max-examples", "5",
        "--conformance-timeout", "5", "--conformance-max-rate", "500", "--conformance-exclude-check", excluded,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout
    assert f"{1 + 1 + len(checks_for('wepay')) - 1} passed" in done.stdout
    assert excluded not in done.stdout


def test_pytest_plugin_fails_what_the_deadline_left_unrun(mock: RunningMock, tmp_path: Path) -> None:
    done = _plugin_run(tmp_path, "--conformance-wepay-url", mock.url, "--conformance-deadline", "0.001")
    assert done.returncode == 1, done.stdout
    assert "not run: the run's deadline was reached" in done.stdout and " passed" in done.stdout


def test_pytest_plugin_usage_errors_are_one_line(tmp_path: Path) -> None:
    done = _plugin_run(tmp_path, "--conformance-wepay-url", "http://127.0.0.1:1", "--conformance-timeout", "-1")
    assert done.returncode == 4, done.stdout + done.stderr  # pytest's usage-error exit code
    assert "billing-conformance: --timeout and --deadline must be positive" in done.stderr
    assert "Traceback" not in done.stderr


def test_default_run_against_the_mock_passes_within_10_s(mock: RunningMock) -> None:
    report = run_suite(suite_config(mifumo_url=mock.url, wepay_url=mock.url))
    assert report.passed, [(f.check, f.message) for f in report.failures]
    assert report.duration < 10, report.duration
    # Nothing blocked against a conformant target; skipped only what this read-only contract cannot exercise:
    # the stateful checks, and on Mifumo's path, whose OPTIONS is an operation of its own (DRF's metadata),
    # an OPTIONS for the GET's Allow check and an undocumented method for the OPTIONS operation.
    assert not [r for r in report.results if r.status is Status.BLOCKED]
    stateful = {"use_after_free", "ensure_resource_availability", "object_level_authorization"}
    skipped = {(r.operation, r.check) for r in report.results if r.status is Status.SKIPPED}
    assert {(operation, check) for operation, check in skipped if check not in stateful} == {
        ("GET /api/billing/history/", "allow_header_conformance"),
        ("OPTIONS /api/billing/history/", "unsupported_method"),
    }
    assert {check for _, check in skipped} >= stateful
