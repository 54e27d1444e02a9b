"""Swagger UI on the mock, in a real browser: Authorize with the three schemes, Try it out and Execute on each
operation; the request reaches the mock that served the page and 200 is shown.

Every request the page makes goes through a route that lets loopback hosts through and aborts any other
(recorded), so the test never reaches the internet, and a Try it out aimed at production shows up as an
aborted request instead of a 200. Headless Debian Chromium (the `chromium` package, which `.ci/run`
installs), driven by Playwright; skipped with the reason where it is missing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from billing_contract.facts import (
    API_OF_TAG,
    DESCRIBE_HISTORY,
    GET_HISTORY,
    GET_STATEMENT,
    LIST_STATEMENTS,
    MIFUMO,
    TAGS,
)
from billing_contract.spec import Spec
from mock_server.testing import RunningMock
from tests.browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install -e '.[test]'")

LOOPBACK = {"127.0.0.1", "localhost", "::1"}

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(), reason=f"no Chromium at {CHROMIUM} (Debian package `chromium`; .ci/run installs it)"
)


@dataclass
class Traffic:
    """What the page asked for: the loopback requests let through, and the others, aborted."""

    allowed: list[str] = field(default_factory=list)
    aborted: list[str] = field(default_factory=list)

    def route(self, route: sync_api.Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname in LOOPBACK:
            self.allowed.append(url)
            route.continue_()
        else:
            self.aborted.append(url)
            route.abort()


@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def docs(browser: sync_api.Browser) -> Iterator[tuple[sync_api.Page, Traffic]]:
    """A fresh page whose every request goes through the loopback-only route."""
    context = browser.new_context()
    traffic = Traffic()
    context.route("**/*", traffic.route)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        yield page, traffic
    finally:
        context.close()


def _authorize(page: sync_api.Page, mock: RunningMock) -> None:
    """Authorize: each of the spec's three schemes gets the mock's credential, then the dialog is closed."""
    values = {
        "bearerAuth": mock.credentials.bearer_token,
        "appIdAuth": mock.credentials.app_id,
        "appTokenAuth": mock.credentials.app_token,
    }
    page.locator(".auth-wrapper button.authorize").click()
    for scheme, value in values.items():
        container = page.locator(".modal-ux .auth-container").filter(has=page.locator(f"h4:has-text('{scheme}')"))
        container.locator("input").fill(value)
        container.get_by_role("button", name="Authorize", exact=True).click()
        container.get_by_role("button", name="Logout").wait_for()
    page.locator(".modal-ux button.close-modal").click()


def _execute(page: sync_api.Page, tag: str, operation_id: str, path_params: dict[str, str]) -> tuple[str, str]:
    """Try it out and Execute on one operation: (the request URL shown, the status shown)."""
    block = page.locator(f"#operations-{tag}-{operation_id}")
    block.locator(".opblock-summary").first.click()
    block.locator("button.try-out__btn").click()
    for name, value in path_params.items():
        block.locator(f"tr[data-param-name='{name}'] input").fill(value)
    version = block.locator("tr[data-param-name='Api-Version'] select")
    if version.count():
        version.select_option("3.0")
    block.locator("button.execute").click()
    status = block.locator(".live-responses-table .response .response-col_status").first
    status.wait_for()
    return block.locator(".request-url pre").inner_text().strip(), status.inner_text().strip()


def _operations(mock: RunningMock) -> list[tuple[str, str, dict[str, str]]]:
    a_statement = mock.app.state.data.dataset.statements[3]["id"]
    return [
        (TAGS["mifumo"], GET_HISTORY, {}),
        (TAGS["mifumo"], DESCRIBE_HISTORY, {}),  # OPTIONS: DRF's metadata
        (TAGS["wepay"], LIST_STATEMENTS, {}),
        (TAGS["wepay"], GET_STATEMENT, {"id": a_statement}),
    ]


def _initial_value(parameter: dict[str, Any]) -> str | None:
    """What Swagger UI puts in a parameter's Try it out field before anyone types (ParameterRow's
    setDefaultValue, OpenAPI 3): the parameter's `example`, else its schema's `example`, else its schema's
    `default`; None where it puts nothing (then nothing is sent)."""
    schema = parameter.get("schema", {})
    for value in (parameter.get("example"), schema.get("example"), schema.get("default")):
        if value is not None:
            return str(value)
    return None


def _sent(spec: Spec, operation_id: str, where: str) -> dict[str, str]:
    """The `where` (query, header) parameters Swagger UI sends untouched, by name, as it fills them."""
    return {
        p["name"]: value
        for p in spec.parameters(operation_id)
        if p["in"] == where and (value := _initial_value(p)) is not None
    }


def _expected_target(spec: Spec, operation_id: str, path_params: dict[str, str]) -> str:
    """The path and query Swagger UI sends untouched: each query parameter's filled-in value, nothing else.
    WePay's list declares no default or example for `page_size`/`currency` (a cursor must go alone), so its
    Try it out sends neither; Mifumo's `type` has none either (`allowEmptyValue`: sent only when asked)."""
    query = "&".join(f"{name}={value}" for name, value in _sent(spec, operation_id, "query").items())
    path = spec.operations[operation_id].path.format(**path_params)
    return f"{path}?{query}" if query else path


def test_try_it_out_reaches_the_mock_for_every_operation(
    docs: tuple[sync_api.Page, Traffic], mock: RunningMock, spec: Spec
) -> None:
    page, traffic = docs
    httpx.delete(f"{mock.url}/__mock/requests", timeout=10)
    page.goto(f"{mock.url}/docs/")
    _authorize(page, mock)
    operations = _operations(mock)
    assert {op for _, op, _ in operations} == set(spec.operations)
    for tag, operation_id, params in operations:
        url, status = _execute(page, tag, operation_id, params)
        assert (url, status) == (mock.url + _expected_target(spec, operation_id, params), "200"), operation_id
    assert traffic.aborted == []
    entries = httpx.get(f"{mock.url}/__mock/requests", timeout=10).json()["requests"]
    contract = [entry for entry in entries if spec.documents_path(entry["path"])]
    expected = [
        (spec.operations[op].method.upper(), spec.operations[op].path.format(**params), 200)
        for _, op, params in operations
    ]
    assert [(entry["method"], entry["path"], entry["status"]) for entry in contract] == expected
    # What Authorize put on each request (the log masks secrets), and the header parameters Swagger UI
    # fills in itself (WePay's `Unique-Key`, from its example); `Api-Version` is the one the test chose.
    for entry, (tag, operation_id, _) in zip(contract, operations, strict=True):
        if API_OF_TAG[tag] == MIFUMO:
            assert entry["headers"]["Authorization"] == "Bearer ***", operation_id
        else:
            credentials = {"App-Id": mock.credentials.app_id, "App-Token": "***"}
            sent = {**credentials, **_sent(spec, operation_id, "header"), "Api-Version": "3.0"}
            assert entry["headers"] == sent, operation_id


def test_the_file_as_written_would_send_try_it_out_to_production(
    docs: tuple[sync_api.Page, Traffic], mock: RunningMock, spec: Spec
) -> None:
    """The guard works, and the served servers rewrite is what keeps Try it out on the mock: given the file's
    own server lists, the page aims at the production host, and the route aborts it."""
    page, traffic = docs

    def as_written(route: sync_api.Route) -> None:
        route.fulfill(status=200, content_type="application/json", body=json.dumps(spec.document))

    page.route(f"{mock.url}/openapi.json", as_written)
    page.goto(f"{mock.url}/docs/")
    _authorize(page, mock)
    block = page.locator(f"#operations-{TAGS['mifumo']}-{GET_HISTORY}")
    block.locator(".opblock-summary").first.click()
    block.locator("button.try-out__btn").click()
    block.locator("button.execute").click()
    page.wait_for_function("() => document.querySelector('.responses-wrapper .live-responses-table, .errors')")
    assert [urlsplit(url).hostname for url in traffic.aborted] == ["mifumosms.mifumolabs.com"]
