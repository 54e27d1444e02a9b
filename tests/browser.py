"""A report page opened in a real browser with no network: Debian's Chromium driven by Playwright (as
tests/clients/test_swagger_ui.py drives it), every request but the file itself aborted and recorded, and
every console message and page error kept, so a test can assert the page needed nothing and broke nothing.
Tests using it are skipped, with the reason, where Chromium or Playwright is missing."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(shutil.which("chromium") or "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 20_000

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.is_file(), reason=f"no Chromium at {CHROMIUM} (Debian package `chromium`; .ci/run installs it)"
)


@dataclass
class Opened:
    """A page opened from a file: every request it made (the file's own included), and what went wrong."""

    page: Any
    requests: list[str] = field(default_factory=list)
    aborted: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)


@contextmanager
def chromium() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="no playwright: pip install -e '.[test]'")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def offline(browser: Any, path: Path) -> Iterator[Opened]:
    """`path` opened in a fresh context whose every request is recorded, and aborted unless it is the file."""
    context = browser.new_context()
    opened = Opened(context.new_page())
    url = path.resolve().as_uri()

    def route(handle: Any) -> None:
        if handle.request.url == url:
            handle.continue_()
        else:
            opened.aborted.append(handle.request.url)
            handle.abort()

    context.route("**/*", route)
    opened.page.on("request", lambda request: opened.requests.append(request.url))
    opened.page.on("console", lambda message: message.type == "error" and opened.console_errors.append(message.text))
    opened.page.on("pageerror", lambda error: opened.console_errors.append(str(error)))
    opened.page.set_default_timeout(TIMEOUT_MS)
    try:
        opened.page.goto(url)
        opened.page.wait_for_load_state("load")
        yield opened
    finally:
        context.close()
