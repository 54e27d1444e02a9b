"""Operator mistakes are not contract verdicts: each stops `billing-conformance` with exit 2 and one line
naming the cause, within seconds and before any check (the preflight, `conformance/preflight.py`).

Every test runs the real CLI in a subprocess, as a CI job does, against a real server on 127.0.0.1.
Times are asserted loosely: the point is seconds, not the 90 to 180 s of checks these inputs used to get.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from schemathesis.checks import CHECKS

from billing_contract import APIS, load_spec
from conformance.checks import checks_for
from mock_server.testing import RunningMock, free_port
from tests.conformance.targets import (
    Run,
    cli,
    hangs_up,
    make_pki,
    never_answers,
    plain_mock,
    raw_server,
    ssh_daemon,
    tls_mock,
)

PREFIX = "billing-conformance: error: "
QUICK = ("--max-examples", "2", "--quiet")


def one_line_error(run: Run) -> str:
    """The run's one line on stderr (exit 2, nothing on stdout, no traceback), without the prefix."""
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stdout == "", run.stdout
    assert len(run.error_lines) == 1 and "Traceback" not in run.stderr, run.stderr
    assert run.error_lines[0].startswith(PREFIX), run.stderr
    return run.error_lines[0].removeprefix(PREFIX)


@pytest.fixture
def request_log(mock: RunningMock) -> Iterator[list[dict[str, object]]]:
    """What the mock receives during the test (its tooling API's request log, emptied first)."""
    received: list[dict[str, object]] = []
    httpx.delete(f"{mock.url}/__mock/requests")
    yield received
    received += httpx.get(f"{mock.url}/__mock/requests").json()["requests"]


# --- the target: not HTTP, not answering, TLS mismatched --------------------------------------------


def test_an_ssh_port_is_not_http() -> None:
    with raw_server(ssh_daemon) as port:
        run = cli("--mifumo-url", f"http://127.0.0.1:{port}", *QUICK)
    line = one_line_error(run)
    assert line == (
        f"mifumo target http://127.0.0.1:{port} does not speak HTTP: "
        "it answered 'SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5' instead of an HTTP status line"
    )
    assert run.wall < 20, run.wall


def test_a_target_that_never_answers_stops_within_about_the_timeout() -> None:
    with raw_server(never_answers) as port:
        run = cli("--wepay-url", f"http://127.0.0.1:{port}", "--timeout", "3", *QUICK)
    line = one_line_error(run)
    assert line == (
        f"wepay target http://127.0.0.1:{port} does not answer: "
        "it accepted the connection but sent no response within 3s (--timeout)"
    )
    assert 3 <= run.wall < 30, run.wall


def test_a_target_that_hangs_up_without_answering() -> None:
    with raw_server(hangs_up) as port:
        run = cli("--wepay-url", f"http://127.0.0.1:{port}", *QUICK)
    line = one_line_error(run)
    target = f"wepay target http://127.0.0.1:{port}"
    assert line == f"{target} does not speak HTTP: it closed the connection without answering"
    assert run.wall < 20, run.wall


def test_http_to_a_tls_port(tmp_path: Path) -> None:
    with tls_mock(make_pki(tmp_path)) as url:
        plain = url.replace("https://", "http://")
        run = cli("--wepay-url", plain, *QUICK)
    address = plain.removeprefix("http://")
    line = one_line_error(run)
    assert line == f"wepay target {plain} expects TLS: {address} answered a TLS handshake, not plain HTTP (use {url})"
    assert run.wall < 20, run.wall


def test_https_to_a_plain_port(tmp_path: Path) -> None:
    with plain_mock() as url:
        secure = url.replace("http://", "https://")
        run = cli("--mifumo-url", secure, *QUICK)
    address = url.removeprefix("http://")
    line = one_line_error(run)
    assert line == f"mifumo target {secure} does not speak TLS: {address} answers plain HTTP (use {url})"
    assert run.wall < 20, run.wall


def test_nothing_listening() -> None:
    port = free_port()
    run = cli("--wepay-url", f"http://127.0.0.1:{port}", *QUICK)
    line = one_line_error(run)
    assert line == (
        f"wepay target http://127.0.0.1:{port} is unreachable: "
        f"connection refused (nothing accepts connections on 127.0.0.1:{port})"
    )
    assert run.wall < 20, run.wall


# --- flags, checked before the first request -------------------------------------------------------


def test_an_unknown_excluded_check_is_refused_and_the_valid_ones_listed(
    mock: RunningMock, request_log: list[dict[str, object]]
) -> None:
    run = cli("--wepay-url", mock.url, "--exclude-check", "bogus_check", "--exclude-check", "wepay_order", *QUICK)
    line = one_line_error(run)
    assert line.startswith("--exclude-check: no check named bogus_check; the checks are: "), line
    listed = set(line.split("; the checks are: ")[1].split(", "))
    assert {c.name for api in APIS for c in checks_for(api)} <= listed
    assert set(CHECKS.get_all_names()) <= listed
    assert request_log == [], request_log


def test_an_api_version_the_spec_does_not_list(mock: RunningMock, request_log: list[dict[str, object]]) -> None:
    versions = load_spec().facts.api_versions
    run = cli("--wepay-url", mock.url, "--api-version", "9.9", *QUICK)
    assert one_line_error(run) == f"--api-version '9.9' is not a version the spec lists: {', '.join(versions)}"
    assert request_log == []


def test_a_junit_report_folder_is_made(mock: RunningMock, tmp_path: Path) -> None:
    report = tmp_path / "missing" / "dir" / "x.xml"
    run = cli("--wepay-url", mock.url, "--junit-xml", str(report), *QUICK)
    assert run.returncode == 0, run.stdout + run.stderr
    assert report.read_text(encoding="utf-8").startswith("<?xml")


def test_a_junit_report_path_that_cannot_be_made_is_refused_at_start(
    mock: RunningMock, tmp_path: Path, request_log: list[dict[str, object]]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    run = cli("--wepay-url", mock.url, "--junit-xml", str(blocker / "reports" / "x.xml"), *QUICK)
    line = one_line_error(run)
    assert line == f"--junit-xml {blocker}/reports/x.xml: cannot make its folder {blocker}/reports: Not a directory"
    assert request_log == []


def test_the_same_mistakes_from_the_environment() -> None:
    port = free_port()
    run = cli("--mifumo-url", f"http://127.0.0.1:{port}", env={"BILLING_EXCLUDE_CHECK": "mifumo_order,nope"})
    assert one_line_error(run).startswith("--exclude-check: no check named nope; the checks are: ")
    run = cli("--mifumo-url", f"http://127.0.0.1:{port}", env={"BILLING_INSECURE": "maybe"})
    assert one_line_error(run) == "BILLING_INSECURE='maybe' is not 1/true/yes/on or 0/false/no/off"


# --- --version and --list-checks ----------------------------------------------------------------------


def test_version() -> None:
    run = cli("--version")
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"billing-conformance {importlib.metadata.version('billing-contract')}\n"


def test_list_checks_names_every_check_with_its_api() -> None:
    run = cli("--list-checks")
    assert run.returncode == 0, run.stderr
    rows = {line.split()[0]: line.split()[1:3] for line in run.stdout.splitlines()[1:]}
    for api in APIS:
        for check in checks_for(api):
            assert rows[check.name] == [api, "semantic"], check.name
            assert check.description in run.stdout
    for name in CHECKS.get_all_names():
        assert rows[name] == [",".join(APIS), "schema"], name


# --- the pytest plugin ----------------------------------------------------------------------------------


def test_the_pytest_plugin_against_a_dead_target_is_one_usage_error(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    port = free_port()
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path),
         "--conformance-wepay-url", f"http://127.0.0.1:{port}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    wall = time.monotonic() - started
    assert done.returncode == 4, done.stdout + done.stderr  # pytest's "usage error"
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert errors == [
        f"ERROR: billing-conformance: wepay target http://127.0.0.1:{port} is unreachable: "
        f"connection refused (nothing accepts connections on 127.0.0.1:{port})"
    ], done.stderr
    assert not re.search(r"\bfailed\b|Traceback", done.stdout + done.stderr), done.stdout
    assert len(done.stdout.splitlines()) < 10, done.stdout
    assert wall < 30, wall


HEAVY = ("schemathesis", "connexion", "hypothesis", "starlette", "uvicorn", "httpx", "requests")
HEAVY_CHECK = f"""
import sys


def test_the_plugins_are_loaded_and_import_nothing_heavy(pytestconfig):
    assert pytestconfig.pluginmanager.has_plugin("billing_conformance") or pytestconfig.pluginmanager.has_plugin(
        "conformance.pytest_plugin"
    )
    assert pytestconfig.pluginmanager.has_plugin("billing_mock") or pytestconfig.pluginmanager.has_plugin(
        "mock_server.pytest_plugin"
    )
    assert pytestconfig.getoption("conformance_wepay_url") is None
    heavy = sorted(name for name in sys.modules if name.split(".")[0] in {HEAVY!r})
    assert heavy == []
"""
# Both ways a project loads them: the entry points (autoloading others' plugins off, since Schemathesis'
# and Hypothesis' own import their packages), or named in a conftest.
LOADINGS = {
    "entry-points": (["-p", "billing_conformance", "-p", "billing_mock"], ""),
    "conftest": ([], 'pytest_plugins = ["conformance.pytest_plugin", "mock_server.pytest_plugin"]\n'),
}


@pytest.mark.parametrize(("options", "conftest"), LOADINGS.values(), ids=LOADINGS.keys())
def test_loading_the_plugins_imports_nothing_heavy(tmp_path: Path, options: list[str], conftest: str) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "conftest.py").write_text(conftest)
    (tmp_path / "test_plugins.py").write_text(HEAVY_CHECK)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *options, str(tmp_path)],
        cwd=tmp_path,
        env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
