"""`billing-mock proxy --report-html FILE`, as users start it: traffic with violations on both sides goes
through the proxy, SIGTERM writes the page beside the JSON report, and the page, opened offline in a real
browser, needs nothing and shows every violation (its rule and message) under its operation."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from mock_server import MockConfig, create_app
from mock_server.testing import free_port, serve_in_thread
from tests.broken.asgi import Broken
from tests.broken.impls import BROKEN
from tests.browser import chromium, needs_chromium, offline
from tests.mock_server.test_proxy import STATEMENTS, WEPAY_HEADERS, _wait_for
from tests.support import MOCK_CREDENTIALS

pytestmark = needs_chromium


def test_the_proxy_writes_its_violations_as_the_html_page(tmp_path: Path) -> None:
    page_file, report = tmp_path / "proxy.html", tmp_path / "violations.json"
    impl = next(b for b in BROKEN if b.name == "api_version_not_echoed")
    with serve_in_thread(Broken(create_app(MockConfig(seed=7)), impl.handler)) as upstream:
        port = free_port()
        command = [sys.executable, "-m", "mock_server.cli", "proxy", "--wepay-upstream", upstream, "--port", str(port),
                   "--report", str(report), "--report-html", str(page_file), "--log-level", "warning"]  # fmt: skip
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        url = f"http://127.0.0.1:{port}"
        _wait_for(url, process)
        with httpx.Client(base_url=url, timeout=10) as client:
            assert client.get(STATEMENTS, headers={**WEPAY_HEADERS, "Api-Version": "3.2"}).status_code == 200
            assert client.get(f"{STATEMENTS}?page_size=900", headers=WEPAY_HEADERS).status_code == 400
            assert client.get(STATEMENTS, headers=WEPAY_HEADERS).status_code == 200
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=20)
    assert process.returncode == 0, err[-2000:]
    violations = json.loads(report.read_text(encoding="utf-8"))
    sides = {v["side"] for v in violations}
    assert sides == {"request", "response"}, violations
    with chromium() as browser, offline(browser, page_file) as opened:
        page = opened.page
        assert opened.requests == [page_file.resolve().as_uri()] and opened.console_errors == []
        assert page.locator("header .verdict").inner_text() == f"{len(violations)} CONTRACT VIOLATION(S)"
        for violation in violations:
            section = page.locator(f'section[data-group="{violation["operation"]}"]')
            row = section.locator(f'.row[data-name="{violation["rule"]}"]')
            assert row.get_attribute("data-state") == "failed" and row.locator(".name").is_visible()
            assert row.get_by_text(violation["message"], exact=False).first.is_visible()
        # The rules checked and never broken are listed as passed.
        assert page.locator('.row[data-state="passed"]').count() >= 1
        assert MOCK_CREDENTIALS.app_token not in page.content()
