"""A TypeScript client as a client team builds it: openapi-typescript generates the types from the file and
from the URL the mock serves (the same types, no warnings); `client.mts`, written with openapi-fetch against
those types, must type-check with tsc (strict) and then, run by node, page through both APIs to the end,
fetch a statement by id, ask Mifumo's OPTIONS for its metadata and read the 400/401/403/404/406 bodies as
the generated types.

The npm packages are pinned in tests/clients/typescript/package-lock.json and installed by `npm ci` on
first use (typescript is pinned to 5: typescript 7 breaks openapi-typescript 7.13).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from billing_contract.documents import SPEC_PATH
from billing_contract.facts import DESCRIBE_HISTORY
from billing_contract.spec import Spec
from mock_server.testing import RunningMock
from tests.clients.generation import generator_warnings

PROJECT = Path(__file__).resolve().parent / "typescript"
BIN = PROJECT / "node_modules" / ".bin"


def _run(command: list[str], cwd: Path, timeout: float = 300) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(command)}:\n{output}"
    return done.stdout if command[0] == "node" else output


@pytest.fixture(scope="session")
def npm_packages() -> Path:
    """tests/clients/typescript/node_modules as its lock file pins it (`npm ci` when missing or stale)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are not installed: the TypeScript client cannot be generated")
    installed = PROJECT / "node_modules" / ".package-lock.json"
    lock = PROJECT / "package-lock.json"
    if not installed.is_file() or installed.stat().st_mtime < lock.stat().st_mtime:
        _run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], PROJECT, timeout=600)
    return BIN


@pytest.fixture(scope="module")
def generated(npm_packages: Path, tmp_path_factory: pytest.TempPathFactory, mock: RunningMock) -> dict[str, Any]:
    """openapi-typescript's types from the file and from the served URL: {source: (schema.d.ts, output)}."""
    out = tmp_path_factory.mktemp("typescript")
    found = {}
    for source, location in (("file", str(SPEC_PATH)), ("url", f"{mock.url}/openapi.json")):
        target = out / f"schema-{source}.d.ts"
        output = _run([str(npm_packages / "openapi-typescript"), location, "-o", str(target)], out)
        found[source] = (target, output)
    return found


@pytest.fixture(scope="module")
def client_run(
    generated: dict[str, Any], npm_packages: Path, tmp_path_factory: pytest.TempPathFactory, mock: RunningMock
) -> dict[str, Any]:
    """client.mts compiled by tsc against the types from the served URL, then run by node against the mock."""
    build = tmp_path_factory.mktemp("client")
    for name in ("client.mts", "tsconfig.json"):
        shutil.copy(PROJECT / name, build / name)
    shutil.copy(generated["url"][0], build / "schema.d.ts")
    (build / "node_modules").symlink_to(PROJECT / "node_modules", target_is_directory=True)
    _run([str(npm_packages / "tsc"), "-p", str(build)], build)
    credentials = mock.credentials
    command = ["node", str(build / "out" / "client.mjs"), mock.url, credentials.bearer_token]
    return json.loads(_run([*command, credentials.app_id, credentials.app_token], build, timeout=120))


@pytest.mark.parametrize("source", ["file", "url"])
def test_generates_without_warnings(generated: dict[str, Any], source: str) -> None:
    assert generator_warnings(generated[source][1]) == []


def test_url_and_file_give_the_same_types(generated: dict[str, Any]) -> None:
    assert generated["url"][0].read_text() == generated["file"][0].read_text()


def test_types_name_the_spec_schemas(generated: dict[str, Any]) -> None:
    types = generated["url"][0].read_text()
    assert 'components["schemas"]["BillingStatement"]' in types
    assert 'components["responses"]["WePayInvalidParams"]' in types


def test_pages_through_both_apis_to_the_end(client_run: dict[str, Any], mock: RunningMock) -> None:
    dataset = mock.app.state.data.dataset
    history = client_run["history"]
    assert len(set(history["ids"])) == len(history["ids"]) == history["count"] == len(dataset.records)
    assert history["pages"] == -(-len(dataset.records) // 40)
    statements = client_run["statements"]
    assert sorted(statements["ids"]) == sorted(s["id"] for s in dataset.statements)
    assert statements["pages"] == -(-len(dataset.statements) // 25)


def test_fetches_a_statement_by_id(client_run: dict[str, Any]) -> None:
    assert client_run["statement"]["fetched"] == client_run["statement"]["listed"]


def test_describes_mifumo(client_run: dict[str, Any], spec: Spec) -> None:
    described = client_run["describe"]
    assert described["metadata"] == spec.example(DESCRIBE_HISTORY, 200, "billingHistory")
    assert described["refused"]["status"] == 401
    assert described["refused"]["body"]["kind"] == "SimpleJwtBadAuthorizationHeader"


def test_errors_read_as_the_generated_types(client_run: dict[str, Any]) -> None:
    errors = client_run["errors"]
    bad_type = "Select a valid choice. refund is not one of the available choices."
    assert errors["mifumo400"] == {"status": 400, "body": {"type": [bad_type]}}
    assert errors["mifumo401"] == {"status": 401, "body": {"detail": "Authentication credentials were not provided."}}
    assert errors["mifumo401header"] == {
        "status": 401,
        "body": {
            "detail": "Authorization header must contain two space-delimited values",
            "code": "bad_authorization_header",
            "kind": "SimpleJwtBadAuthorizationHeader",
        },
    }
    assert errors["mifumo401token"]["status"] == 401
    assert errors["mifumo401token"]["body"]["kind"] == "SimpleJwtTokenNotValid"
    assert errors["mifumo404"] == {"status": 404, "body": {"detail": "Invalid page."}}
    assert errors["mifumo406"] == {"status": 406, "body": {"detail": "Could not satisfy the request Accept header."}}
    assert errors["wepay400"] == {"status": 400, "body": {"error_code": "INVALID_PARAMS", "targets": [["page_size"]]}}
    assert errors["wepay403"]["status"] == 403
    assert errors["wepay403"]["body"]["error_code"] == "NOT_AUTHORIZED"
    assert errors["wepay404"] == {"status": 404, "body": {"error_code": "NOT_FOUND", "targets": [["id"]]}}
