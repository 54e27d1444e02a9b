"""The contract itself: valid OpenAPI 3.0.3, lint-clean, faithful to the seeds, examples valid."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from openapi_core.validation.response.exceptions import InvalidData
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from billing_contract.spec import DEFAULT_SPEC_PATH, Spec
from tests.openapi_check import ContractValidator

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT.parent / "shared" / "seeds"
REDOCLY = "@redocly/cli@2.77.0"

DOCUMENTED = {
    "getBillingHistory": {200, 400, 401, 404, 406, 500},
    "describeBillingHistory": {200, 401, 404, 406},
    "listBillingStatements": {200, 400, 403, 429, 500},
    "getBillingStatement": {200, 400, 403, 404, 429, 500},
}


def test_spec_is_valid_openapi_3_0(spec: Spec) -> None:
    assert spec.document["openapi"] == "3.0.3"
    validate(spec.document)


@pytest.mark.skipif(shutil.which("npx") is None, reason="npx (Node.js) is not installed")
def test_redocly_recommended_lint_reports_no_errors() -> None:
    result = subprocess.run(
        ["npx", "--yes", REDOCLY, "lint", "--format", "json", str(DEFAULT_SPEC_PATH)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "REDOCLY_TELEMETRY": "off"},
    )
    report = json.loads(result.stdout[result.stdout.index("{") :])
    errors = [p for p in report["problems"] if p["severity"] == "error"]
    assert errors == [], errors
    assert result.returncode == 0, result.stderr[-2000:]


def test_operations_tags_and_servers(spec: Spec) -> None:
    ops = spec.operations
    assert (ops["getBillingHistory"].method, ops["getBillingHistory"].path, ops["getBillingHistory"].tag) == (
        "get",
        "/api/billing/history/",
        "Mifumo",
    )
    assert (ops["listBillingStatements"].path, ops["listBillingStatements"].tag) == ("/billing_statements", "WePay")
    assert (ops["getBillingStatement"].path, ops["getBillingStatement"].tag) == ("/billing_statements/{id}", "WePay")
    paths = spec.document["paths"]
    # The providers' hosts, then any other deployment by its origin (so a tool reading the file matches a
    # staging backend or the mock on any port).
    assert [s["url"] for s in paths["/api/billing/history/"]["servers"]] == [
        "https://mifumosms.mifumolabs.com",
        "{origin}",
    ]
    for path in ("/billing_statements", "/billing_statements/{id}"):
        assert [s["url"] for s in paths[path]["servers"]] == [
            "https://api.wepay.com",
            "https://stage-api.wepay.com",
            "{origin}",
        ]


def test_security_schemes(spec: Spec) -> None:
    schemes = spec.document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert (schemes["appIdAuth"]["in"], schemes["appIdAuth"]["name"]) == ("header", "App-Id")
    assert (schemes["appTokenAuth"]["in"], schemes["appTokenAuth"]["name"]) == ("header", "App-Token")
    assert spec.operations["getBillingHistory"].raw["security"] == [{"bearerAuth": []}]
    for op in ("listBillingStatements", "getBillingStatement"):
        assert spec.operations[op].raw["security"] == [{"appIdAuth": [], "appTokenAuth": []}]


@pytest.mark.parametrize("operation_id", sorted(DOCUMENTED))
def test_every_operation_documents_every_status(spec: Spec, operation_id: str) -> None:
    assert set(spec.operations[operation_id].statuses) == DOCUMENTED[operation_id]


def test_wepay_responses_declare_correlation_id_and_mifumo_401_the_challenge(spec: Spec) -> None:
    for op in ("listBillingStatements", "getBillingStatement"):
        for status in DOCUMENTED[op]:
            assert spec.response(op, status)["headers"]["X-Correlation-Id"]["required"] is True
    assert spec.response("getBillingHistory", 401)["headers"]["WWW-Authenticate"]["schema"]["enum"] == [
        'Bearer realm="api"'
    ]
    assert "Retry-After" in spec.response("listBillingStatements", 429)["headers"]


def test_parameters_state_the_contract_bounds(spec: Spec) -> None:
    def params(op: str) -> dict:
        return {p["name"]: p for p in spec.parameters(op)}

    history = params("getBillingHistory")
    # DRF reads both as text (any value is accepted and interpreted); the integer they document is one branch.
    assert spec.documented_integer("getBillingHistory", "page") == {"type": "integer", "minimum": 1, "default": 1}
    assert spec.documented_integer("getBillingHistory", "page_size") == {
        "type": "integer",
        "minimum": 1,
        "maximum": 100,
        "default": 20,
    }
    for name in ("page", "page_size"):
        assert {"type": "string"} in history[name]["schema"]["anyOf"]
    assert history["type"]["schema"]["enum"] == ["purchase", "payment", "usage"]
    statements = params("listBillingStatements")
    assert {k: statements["page_size"]["schema"][k] for k in ("minimum", "maximum", "x-server-default")} == {
        "minimum": 1,
        "maximum": 500,
        "x-server-default": 10,
    }
    assert spec.query_default("listBillingStatements", "currency") == "USD"
    assert statements["currency"]["schema"]["enum"] == ["USD", "CAD"]
    assert (statements["account_id"]["schema"]["minLength"], statements["account_id"]["schema"]["maxLength"]) == (
        1,
        255,
    )
    assert statements["Api-Version"]["required"] is True
    assert statements["Api-Version"]["schema"]["enum"] == ["3.0", "3.1", "3.2"]
    assert statements["Unique-Key"]["schema"]["maxLength"] == 255


def test_a_cursor_can_be_sent_alone_by_generated_clients(spec: Spec) -> None:
    """Generators and Swagger UI send a schema `default` with every call, and a WePay cursor excludes every
    other query parameter: those parameters state their server default as `x-server-default` instead."""
    excluded = [p for p in spec.parameters("listBillingStatements") if p["in"] == "query" and p["name"] != "page"]
    assert {p["name"] for p in excluded} == {"page_size", "account_id", "currency"}
    assert [p["name"] for p in excluded if "default" in p["schema"]] == []
    assert {p["name"]: spec.query_default("listBillingStatements", p["name"]) for p in excluded} == {
        "page_size": 10,
        "account_id": None,
        "currency": "USD",
    }
    assert "x-server-default" in spec.operations["listBillingStatements"].raw["description"]


def _objects(node: object, where: str = "#"):
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node:
            yield where, node
        for key, value in node.items():
            yield from _objects(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _objects(value, f"{where}/{index}")


def test_service_objects_forbid_undocumented_fields(spec: Spec) -> None:
    objects = list(_objects(spec.document["components"]["schemas"], "#/components/schemas"))
    assert len(objects) >= 10
    for where, schema in objects:
        assert schema.get("additionalProperties") is False, where


def _all_examples(spec: Spec):
    for op in spec.operations.values():
        for status in op.statuses:
            media = spec.response(op.operation_id, status)["content"]["application/json"]
            for name, example in media.get("examples", {}).items():
                yield f"{op.operation_id}-{status}-{name}", media["schema"], example["value"]


def test_every_example_validates_against_its_schema(spec: Spec) -> None:
    examples = list(_all_examples(spec))
    assert len(examples) >= 14
    for label, schema, value in examples:
        errors = list(OAS30Validator(schema).iter_errors(value))
        assert not errors, f"{label}: {errors[0].message}"


def test_the_validator_rejects_what_the_contract_forbids(spec: Spec) -> None:
    schema = spec.response("getBillingHistory", 200)["content"]["application/json"]["schema"]
    record = spec.example("getBillingHistory", 200, "seedPage")["results"][0]
    bad_bodies = [
        {"count": 1, "next": None, "previous": None, "results": [{**record, "extra": 1}]},
        {
            "count": 1,
            "next": None,
            "previous": None,
            "results": [{**record, "created_at": "2025-11-01T10:00:00"}],  # an offset is required
        },
        {"count": 1, "next": None, "previous": None, "results": [{**record, "status": "settled"}]},
        {"count": -1, "next": None, "previous": None, "results": []},
    ]
    for body in bad_bodies:
        assert list(OAS30Validator(schema).iter_errors(body)), body


def test_contract_validator_catches_a_bad_live_response(spec: Spec) -> None:
    request = httpx.Request("GET", "http://testserver/billing_statements")
    response = httpx.Response(
        200,
        json={"next": None, "previous": None, "results": [], "api_version": "9"},
        headers={"X-Correlation-Id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427"},
        request=request,
    )
    with pytest.raises(InvalidData):
        ContractValidator(spec).validate(response)


def _seed_json(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    start = text.index("{")
    depth = 0
    for index, char in enumerate(text[start:], start):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth == 0:
            return json.loads(text[start : index + 1])
    raise AssertionError("no JSON body in seed")


@pytest.mark.skipif(not SEEDS.is_dir(), reason="../shared/seeds is not beside the checkout")
def test_seed_examples_are_verbatim(spec: Spec) -> None:
    mifumo = _seed_json(SEEDS / "000_57b8b8c6e0c707af.txt")
    assert spec.example("getBillingHistory", 200, "seedPage") == mifumo
    wepay_text = (SEEDS / "004_f20e31ee58074cc6.txt").read_text(encoding="utf-8")
    example = spec.example("listBillingStatements", 200, "seedPage")
    for statement in example["results"]:
        for key, value in statement.items():
            if key not in ("owner",):
                assert re.search(rf'"{key}": "?{re.escape(str(value))}"?', wepay_text), (key, value)
    assert spec.example("getBillingStatement", 200, "seedStatement") == example["results"][0]
