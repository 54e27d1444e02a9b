"""The suite's HTML report in a real browser, offline: `billing-conformance --report-html` against a broken
backend (tests/broken/impls.py, served as test_broken.py serves them), the page opened from its file with
every other request aborted. It needs nothing (no request beyond the file, no console error), shows each
failure (check name and message), and its state filters change the rows shown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mock_server import MockConfig, create_app
from mock_server.testing import serve_in_thread
from tests.broken.asgi import Broken
from tests.broken.impls import BROKEN
from tests.browser import chromium, needs_chromium, offline
from tests.support import MOCK_CREDENTIALS, MOCK_SUITE_ENV

ROOT = Path(__file__).resolve().parents[2]
pytestmark = needs_chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def broken_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A WePay answering 500 to a page size over its maximum: Schemathesis' checks and the semantic ones
    fail on it, many inputs each; the page and the JSON report of that one run."""
    impl = next(b for b in BROKEN if b.name == "server_error_on_bad_input")
    folder = tmp_path_factory.mktemp("report")
    html, report = folder / "run.html", folder / "run.json"
    with serve_in_thread(Broken(create_app(MockConfig(seed=7)), impl.handler)) as url:
        argv = ["--wepay-url", url, "--max-examples", "5", "--quiet", "--report-html", str(html)]
        done = subprocess.run(
            [sys.executable, "-m", "conformance.cli", *argv, "--report-json", str(report)],
            cwd=ROOT,
            env={**os.environ, **MOCK_SUITE_ENV},  # a module's fixture runs before the autouse credentials
            capture_output=True,
            text=True,
            timeout=180,
        )
    assert done.returncode == 1, done.stdout + done.stderr
    return html, json.loads(report.read_text(encoding="utf-8"))


def _visible_rows(page: Any) -> list[str]:
    return page.eval_on_selector_all(
        ".row", "rows => rows.filter(r => r.offsetParent !== null).map(r => r.dataset.state + ' ' + r.dataset.name)"
    )


def test_the_page_opens_offline_and_shows_every_failure(browser: Any, broken_run: tuple[Path, dict[str, Any]]) -> None:
    html, report = broken_run
    with offline(browser, html) as opened:
        page = opened.page
        assert opened.requests == [html.resolve().as_uri()] and opened.aborted == []
        assert opened.console_errors == []
        assert page.locator("header .verdict").inner_text() == "NOT CONFORMANT"
        assert report["run"]["targets"]["wepay"] in page.locator("header").inner_text()
        failed = [(op["operation"], c) for op in report["operations"] for c in op["checks"] if c["state"] == "failed"]
        assert {c["check"] for _, c in failed} >= {"not_a_server_error", "wepay_param_errors"}
        for operation, check in failed:
            row = page.locator(f'section[data-group="{operation}"] .row[data-name="{check["check"]}"]')
            assert row.locator(".name").is_visible() and row.locator(".badge").inner_text().lower() == "failed"
            for number, finding in enumerate(check["findings"], 1):
                heading = row.locator(".finding h3").nth(number - 1)
                assert heading.is_visible() and heading.inner_text() == f"{number}. {finding['message']}"
            first = row.locator(".finding").first
            assert first.locator("pre.repro").is_visible()
            assert "${BILLING_APP_TOKEN}" in first.locator(".exchange").inner_text()
        assert MOCK_CREDENTIALS.app_token not in page.content()


def test_the_state_filters_change_the_rows_shown(browser: Any, broken_run: tuple[Path, dict[str, Any]]) -> None:
    html, report = broken_run
    states = [c["state"] for op in report["operations"] for c in op["checks"]]
    with offline(browser, html) as opened:
        page = opened.page
        everything = _visible_rows(page)
        assert len(everything) == len(states)
        assert {"failed", "skipped", "passed"} <= set(states)
        for state in ("failed", "skipped", "passed"):
            page.locator(f'nav.filters button[data-state="{state}"]').click()
            shown = _visible_rows(page)
            assert shown and {row.split()[0] for row in shown} == {state}, shown
            assert len(shown) == states.count(state)
            pressed = page.locator('nav.filters button[aria-pressed="true"]').inner_text()
            assert pressed.startswith(state)
        page.locator('nav.filters button[data-state="all"]').click()
        assert _visible_rows(page) == everything
        assert opened.console_errors == [] and opened.aborted == []
