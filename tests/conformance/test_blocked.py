"""A WePay whose pages are not the documented envelope (`{"data": [...]}`) but which is right on
everything else: the envelope is reported once, the walks are blocked by it, and the rules that need no
page (credentials, headers and parameters, correlation ids) are still tested, and pass."""

from __future__ import annotations

from typing import Any

from conformance import Status, run_suite
from mock_server import MockConfig, create_app
from mock_server.testing import serve_in_thread
from tests.broken.asgi import Broken
from tests.broken.impls import STATEMENTS, json_rewrite
from tests.support import suite_config


def _data_envelope(body: dict[str, Any], _: object) -> dict[str, Any]:
    return {"data": body["results"], "api_version": body["api_version"]}


def test_unreadable_pages_block_the_walks_and_nothing_else() -> None:
    with serve_in_thread(Broken(create_app(MockConfig(seed=7)), json_rewrite(STATEMENTS, _data_envelope))) as url:
        report = run_suite(suite_config(wepay_url=url, schema_checks=False))
    shape = report.result("GET /billing_statements", "wepay_page_shape")
    assert shape.status is Status.FAILED
    assert "undocumented field(s) `data`" in shape.got and "`results` is missing" in shape.got
    assert report.failed_checks() == {"wepay_page_shape"}
    blocked = {r.check for r in report.results if r.status is Status.BLOCKED}
    assert {"wepay_pagination_integrity", "wepay_order", "wepay_values", "wepay_cursor_tamper"} <= blocked
    assert {r.blocked_by for r in report.results if r.status is Status.BLOCKED} == {"wepay_page_shape"}
    passed = {r.check for r in report.results if r.status is Status.PASSED}
    assert {"wepay_auth_errors", "wepay_param_errors", "wepay_correlation_id"} <= passed
