"""The single-exchange rules (`billing_contract.rules`) as pure functions: exchange in, violations out. The
semantic checks and the validating proxy share them, so they are pinned here on hand-made exchanges."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import jsonschema
import pytest

from billing_contract import GET_HISTORY, GET_STATEMENT, LIST_STATEMENTS, MIFUMO, WEPAY, facts, profiles, rules
from billing_contract.spec import Spec, load_spec
from conformance import outcome, repro
from mock_server.testing import RunningMock

HISTORY = "http://api.test/api/billing/history/"


@dataclass
class Ex:
    """A minimal `rules.ExchangeLike`."""

    url: str
    status: int
    body: Any
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict)
    request: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.body if isinstance(self.body, str) else json.dumps(self.body)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    def sent(self, name: str) -> str | None:
        return next((v for k, v in self.request.items() if k.lower() == name.lower()), None)


@pytest.fixture(scope="module")
def spec() -> Spec:
    return load_spec()


def _record(n: int) -> dict[str, Any]:
    return {"id": str(uuid.UUID(int=n)), "type": "usage", "description": "d", "amount": -1.0, "currency": "TZS",
            "status": "completed", "created_at": "2025-11-01T10:00:00Z"}  # fmt: skip


def test_every_schema_error_is_listed(spec: Spec) -> None:
    body = {"success": True, "data": {}}
    found = rules.body_matches(spec, facts.GET_HISTORY, Ex(HISTORY, 200, body))
    assert len(found) == 1 and found[0].rule == "schema"
    for error in ("undocumented field(s) `data`, `success`", "`count` is missing", "`next` is missing",
                  "`previous` is missing", "`results` is missing"):  # fmt: skip
        assert error in found[0].got
    assert "(5 error(s))" in found[0].message


def test_a_conformant_page_breaks_no_rule(spec: Spec) -> None:
    body = {"count": 3, "next": HISTORY + "?page=2&page_size=2", "previous": None, "results": [_record(1), _record(2)]}
    assert profiles.check_exchange(spec, facts.GET_HISTORY, Ex(HISTORY + "?page_size=2", 200, body)) == []


@pytest.mark.parametrize(
    ("url", "body", "rule"),
    [
        # `next` relative, and pointing at the wrong page.
        (HISTORY + "?page_size=2", {"count": 3, "next": "/api/billing/history/?page=2&page_size=2"}, "schema"),
        (HISTORY + "?page_size=2", {"count": 3, "next": HISTORY + "?page=3&page_size=2"}, "mifumo-links"),
        # The link to page 1 keeps no `page`; the other parameters are kept.
        (HISTORY + "?page=2&page_size=2", {"count": 3, "previous": HISTORY + "?page=1&page_size=2"}, "mifumo-links"),
        (
            HISTORY + "?page=2&page_size=2&type=usage",
            {"count": 3, "previous": HISTORY + "?page_size=2"},
            "mifumo-links",
        ),
        # A page of 2 out of 3 with no `next`; and a count disagreeing with the records.
        (HISTORY + "?page_size=2", {"count": 3, "next": None}, "mifumo-links"),
        (HISTORY + "?page_size=2", {"count": 2, "next": None, "results": [_record(1)]}, "mifumo-count"),
    ],
)
def test_mifumo_link_and_count_rules(spec: Spec, url: str, body: dict[str, Any], rule: str) -> None:
    page = {"count": 3, "next": None, "previous": None, "results": [_record(1), _record(2)], **body}
    found = profiles.check_exchange(spec, facts.GET_HISTORY, Ex(url, 200, page))
    assert rule in {v.rule for v in found}, found


def test_link_parameter_order_is_free(spec: Spec) -> None:
    page = {"count": 3, "next": HISTORY + "?type=usage&page_size=2&page=2", "previous": None,
            "results": [_record(1), _record(2)]}  # fmt: skip
    assert rules.mifumo_links(Ex(HISTORY + "?page_size=2&type=usage", 200, page)) == []


def _statement(version: str) -> dict[str, Any]:
    return {"id": "s1", "resource": "billing_statements", "path": "/billing_statements/s1", "owner": None,
            "create_time": 1, "total_fee_amount": 1, "currency": "USD", "month": 1, "year": 2025,
            "api_version": version}  # fmt: skip


def test_wepay_version_echo_and_correlation_id(spec: Spec) -> None:
    url = "http://api.test/billing_statements"
    page = {"next": None, "previous": None, "results": [_statement("3.0")], "api_version": "3.1"}
    ok = {"X-Correlation-Id": str(uuid.uuid4())}
    found = profiles.check_exchange(
        spec, facts.LIST_STATEMENTS, Ex(url, 200, page, headers=ok, request={"api-version": "3.1"})
    )
    assert [v.rule for v in found] == ["wepay-api-version"] and "statement s1: '3.0'" in found[0].got
    # `results: null` is a page too; a correlation id must be there and be a UUID.
    empty = {"next": None, "previous": None, "results": None, "api_version": "3.0"}
    bad = Ex(url, 200, empty, headers={"x-correlation-id": "abc"}, request={"Api-Version": "3.0"})
    assert [v.rule for v in profiles.check_exchange(spec, facts.LIST_STATEMENTS, bad)] == ["wepay-correlation-id"]


def test_error_envelopes(spec: Spec) -> None:
    url = "http://api.test/billing_statements"
    cid = {"X-Correlation-Id": str(uuid.uuid4())}
    drf = Ex(url, 400, {"detail": "Invalid parameters."}, headers=cid)
    assert {v.rule for v in profiles.check_exchange(spec, facts.LIST_STATEMENTS, drf)} == {"schema"}
    # An undocumented status (405) is still in the API's own envelope.
    v3 = {"error_code": "NOT_FOUND", "error_message": "Method POST is not allowed.", "details": []}
    assert profiles.check_exchange(spec, facts.LIST_STATEMENTS, Ex(url, 405, v3, "POST", cid)) != []
    assert _envelope(spec, "wepay", Ex(url, 405, v3, "POST", cid)) == []
    assert _envelope(spec, "mifumo", Ex(HISTORY, 405, v3, "POST")) != []
    assert _envelope(spec, "mifumo", Ex(HISTORY, 405, {"detail": 'Method "POST" not allowed.'})) == []


def test_operation_of_a_url(spec: Spec) -> None:
    assert rules.operation_of(spec, "GET", "http://h/base/billing_statements/abc?x=1") == facts.GET_STATEMENT
    assert rules.operation_of(spec, "GET", "http://h/billing_statements") == facts.LIST_STATEMENTS
    assert rules.operation_of(spec, "GET", HISTORY + "?page=2") == facts.GET_HISTORY
    assert rules.operation_of(spec, "GET", "http://h/elsewhere") is None


def test_importing_the_suite_loads_no_mock_module() -> None:
    script = (
        "import sys, conformance, conformance.cli, billing_contract.rules, conformance.pytest_plugin,"
        " conformance.schemathesis_hooks;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'mock_server'))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


# -- the fast validity check agrees with jsonschema -------------------------------------------------------


def _mutations(body: object) -> list[object]:
    """The body, and variants each breaking (or not) one thing: a field dropped, retyped, or a format bent."""
    variants: list[object] = [body]
    if isinstance(body, dict):
        for key in list(body)[:6]:
            for value in (None, "x", 1, 1.5, [], {}, "not-a-uuid", "2025-13-01T00:00:00Z", "http:nohost", "USD"):
                changed = copy.deepcopy(body)
                changed[key] = value
                variants.append(changed)
            dropped = copy.deepcopy(body)
            del dropped[key]
            variants.append(dropped)
        results = body.get("results")
        if isinstance(results, list) and results:
            for inner in _mutations(results[0])[1:]:
                changed = copy.deepcopy(body)
                changed["results"][0] = inner
                variants.append(changed)
    return variants


def test_the_fast_validity_check_agrees_with_jsonschema(spec: Spec, mock: RunningMock) -> None:

    answers = [
        (GET_HISTORY, httpx.get(f"{mock.url}/api/billing/history/?page_size=3", headers=mock.mifumo_headers)),
        (LIST_STATEMENTS, httpx.get(f"{mock.url}/billing_statements?page_size=3", headers=mock.wepay_headers)),
        (GET_STATEMENT, httpx.get(f"{mock.url}/billing_statements/missing", headers=mock.wepay_headers)),
    ]
    checked = 0
    for operation_id, answer in answers:
        schema = rules.response_schema(spec, operation_id, answer.status_code)
        for body in _mutations(answer.json()):
            slow = not list(jsonschema.Draft7Validator(schema, format_checker=rules.FORMATS).iter_errors(body))
            assert rules._valid(schema, body) == slow, body
            checked += 1
    assert checked > 150


def test_repro_commands_show_secrets_as_variables_that_the_shell_expands() -> None:
    secret = 'to$k"en`1'
    secrets = {secret: "BILLING_BEARER_TOKEN", "a": "BILLING_APP_ID"}
    command = repro.curl(
        "GET", "http://h/x?a=1&b=$c", [("Authorization", f"Bearer {secret}"), ("App-Id", "a")], secrets
    )
    assert secret not in command and "${BILLING_BEARER_TOKEN}" in command
    assert "App-Id: ${BILLING_APP_ID}" in command  # the header's name is not rewritten by a short secret
    env = {"BILLING_BEARER_TOKEN": secret, "BILLING_APP_ID": "a", "PATH": "/usr/bin:/bin"}
    words = subprocess.run(["bash", "-c", f"printf '%s\\n' {command[len('curl ') :]}"], env=env,
                           capture_output=True, text=True, timeout=10).stdout.splitlines()  # fmt: skip
    assert words == [
        "-i",
        "-X",
        "GET",
        "http://h/x?a=1&b=$c",
        "-H",
        f"Authorization: Bearer {secret}",
        "-H",
        "App-Id: a",
    ]
    st_sample = f"curl -X GET -H 'Authorization: Bearer {secret.replace(chr(39), '')}' 'http://h/'"
    assert "${BILLING_BEARER_TOKEN}" in repro.hide_secrets(st_sample, secrets)


def test_cases_report_every_distinct_failure_and_a_partial_block() -> None:
    cases = outcome.Cases()
    for value in (1, 2, 2, 3):
        with cases.case():
            outcome.ensure(value == 1, f"{value} should be 1", 1, value)
    inner = outcome.Cases()
    for name in ("a", "b"):
        with inner.case():
            outcome.ensure(False, f"nested {name}")
    with cases.case():
        inner.finish()
    with pytest.raises(outcome.Failed) as raised:
        cases.finish()
    found = [raised.value.message, *(f.message for f in raised.value.more)]
    assert found == ["2 should be 1", "3 should be 1", "nested a", "nested b"]
    assert cases.ran == 5
    # Nothing failed but a part was blocked: the check is blocked, not passed.
    partial = outcome.Cases()
    with partial.case():
        pass
    with partial.case():
        raise outcome.Blocked("mifumo_page_shape", "no readable page")
    with pytest.raises(outcome.Blocked):
        partial.finish()
    assert outcome.said(None) == "null" and outcome.said(["a"]) == '["a"]' and outcome.said("as is") == "as is"


def test_every_rule_a_violation_carries_is_listed(spec: Spec) -> None:
    """`ApiProfile.rule_names` names what the proxy's JUnit report lists per operation: every violation that broken
    exchanges of each API produce carries one of its names, and every name is produced by some exchange."""
    url = "http://api.test/billing_statements"
    broken = {
        MIFUMO: [
            (facts.GET_HISTORY, Ex(HISTORY, 418, "<html>")),  # undocumented status
            (facts.GET_HISTORY, Ex(HISTORY, 405, {"error": "no"})),  # not DRF's envelope
            (facts.GET_HISTORY, Ex(HISTORY, 200, {"count": "3"})),  # schema
            (
                facts.GET_HISTORY,
                Ex(
                    HISTORY + "?page_size=2",
                    200,
                    {"count": 5, "next": "/relative?page=2", "previous": None, "results": [_record(1)]},
                ),
            ),  # links and count
        ],
        WEPAY: [
            (facts.LIST_STATEMENTS, Ex(url, 405, {"detail": "x"})),
            (
                facts.LIST_STATEMENTS,
                Ex(
                    url,
                    200,
                    {
                        "next": "http://elsewhere/x",
                        "previous": None,
                        "results": [_statement("3.0")],
                        "api_version": "3.1",
                    },
                    request={"Api-Version": "3.1"},
                ),
            ),
        ],
    }
    for api, exchanges in broken.items():
        seen = {v.rule for operation, exchange in exchanges for v in profiles.check_exchange(spec, operation, exchange)}
        assert seen <= set(profiles.PROFILES[api].rule_names), (api, seen)
        assert seen == set(profiles.PROFILES[api].rule_names), (api, set(profiles.PROFILES[api].rule_names) - seen)


def _envelope(spec: Spec, api: str, exchange: Ex) -> list[rules.Violation]:
    profile = profiles.PROFILES[api]
    return rules.error_envelope(spec, profile.error_schema, profile.error_words, exchange)
