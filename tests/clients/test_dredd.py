"""Dredd (14.1.0), the API description testing tool, run on the contract file as written against the mock:
an independent validator of the mock against the file, with every documented response passing.

Dredd makes one transaction per documented response and sends the same example request for each;
`dredd/hooks.js` gives each transaction, by name, the request that provokes its response (no credentials
for the 401/403, a bad parameter for the 400s, `page=999` or an unknown id for the 404s, `Accept:
application/xml` for the 406s, `Prefer: code=429|500` for the mock's documented 429/500), and Dredd checks
each real answer: the status, each documented header's presence and the JSON body. Dredd 14.1.0 builds
no JSON Schema from an OpenAPI 3 Schema Object (it would compare the body with the keys of the
response's first named example only), so the hooks hand it the response's schema from the file, and
check header values against their schemas, which Dredd ignores; `test_dredd_checks_the_file_it_reads`
shows both bite.

The npm packages are pinned in tests/clients/dredd/package-lock.json and installed by `npm ci` on first use.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from billing_contract import profiles
from billing_contract.documents import SPEC_PATH
from billing_contract.spec import Spec
from mock_server.testing import RunningMock

PROJECT = Path(__file__).resolve().parent / "dredd"
DREDD = PROJECT / "node_modules" / ".bin" / "dredd"
HOOKS = PROJECT / "hooks.js"

# Documented responses the mock cannot produce, by Dredd's transaction name, with the reason; hooks.js
# skips exactly these (its SKIPPED). None: the mock produces every documented response.
SKIPPED: dict[str, str] = {}

SUMMARY = re.compile(r"complete: (\d+) passing, (\d+) failing, (\d+) errors, (\d+) skipped, (\d+) total")


@dataclass(frozen=True)
class DreddRun:
    returncode: int
    output: str
    report: dict[str, Any]

    @property
    def summary(self) -> tuple[int, ...]:
        found = SUMMARY.findall(self.output)
        assert len(found) == 1, self.output
        return tuple(int(n) for n in found[0])


def _install(command: list[str]) -> None:
    done = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}{done.stderr}"


@pytest.fixture(scope="session")
def dredd_installed() -> Path:
    """tests/clients/dredd/node_modules as its lock file pins it (`npm ci` when missing or stale)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are not installed: Dredd cannot run")
    installed = PROJECT / "node_modules" / ".package-lock.json"
    lock = PROJECT / "package-lock.json"
    if not installed.is_file() or installed.stat().st_mtime < lock.stat().st_mtime:
        _install(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"])
    return DREDD


def run_dredd(mock: RunningMock, spec_file: Path, report: Path, *options: str) -> DreddRun:
    """`dredd FILE MOCK_URL --hookfiles hooks.js` with the mock's credentials; hooks.js reports to `report`."""
    credentials = mock.credentials
    headers = {
        "Authorization": f"Bearer {credentials.bearer_token}",
        "App-Id": credentials.app_id,
        "App-Token": credentials.app_token,
    }
    command = [str(DREDD), str(spec_file), mock.url, "--hookfiles", str(HOOKS), "--no-color", "--loglevel", "error"]
    for name, value in headers.items():
        command += ["--header", f"{name}:{value}"]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("DREDD_")}, "DREDD_HOOKS_REPORT": str(report)}
    done = subprocess.run([*command, *options], cwd=PROJECT, capture_output=True, text=True, timeout=120, env=env)
    output = done.stdout + done.stderr
    assert report.is_file(), f"hooks.js wrote no report:\n{output}"
    return DreddRun(done.returncode, output, json.loads(report.read_text()))


@pytest.fixture(scope="module")
def dredd_run(dredd_installed: Path, mock: RunningMock, tmp_path_factory: pytest.TempPathFactory) -> DreddRun:
    return run_dredd(mock, SPEC_PATH, tmp_path_factory.mktemp("dredd") / "report.json")


def documented_responses(spec: Spec) -> dict[str, tuple[str, int]]:
    """Dredd's transaction names for the file's documented responses: {name: (operationId, status)}."""
    names = {}
    for op_id, op in spec.operations.items():
        for status in op.statuses:
            for media_type in spec.response(op_id, status).get("content", {}):
                names[f"{op.path} > {op.raw['summary']} > {status} > {media_type}"] = (op_id, status)
    return names


def credential_headers(spec: Spec, profile: profiles.ApiProfile) -> set[str]:
    """The headers a client of the profile's API authenticates with, lower-case."""
    sent = profile.request_headers(spec.facts, {})
    return {name.lower() for name in sent if name != spec.facts.version_header}


def test_every_documented_response_passes(dredd_run: DreddRun, spec: Spec) -> None:
    documented = len(documented_responses(spec))
    assert dredd_run.returncode == 0, dredd_run.output
    assert dredd_run.summary == (documented - len(SKIPPED), 0, 0, len(SKIPPED), documented), dredd_run.output


def test_transactions_are_the_documented_responses(dredd_run: DreddRun, spec: Spec) -> None:
    assert [t["name"] for t in dredd_run.report["transactions"]] == list(documented_responses(spec))


def test_skips_are_exactly_the_listed_ones(dredd_run: DreddRun) -> None:
    assert dredd_run.report["skipped"] == SKIPPED
    skipped = {t["name"]: t["skipped"] for t in dredd_run.report["transactions"] if "skipped" in t}
    assert skipped == SKIPPED


def test_each_response_is_provoked_for_real(dredd_run: DreddRun, spec: Spec) -> None:
    """Each transaction got its documented status from the request it sent, with the operation's own
    credentials but for the credentials check's status, and Dredd checked the body against the schema."""
    documented = documented_responses(spec)
    every_credential = set().union(*(credential_headers(spec, p) for p in profiles.PROFILES.values()))
    for transaction in dredd_run.report["transactions"]:
        if transaction["name"] in SKIPPED:
            continue
        op_id, status = documented[transaction["name"]]
        assert transaction["status"] == status, transaction
        assert transaction["bodySchema"] is True, transaction
        assert transaction["gavelValid"] is True, transaction
        assert transaction["headerProblems"] == [], transaction
        profile = profiles.of_operation(spec, op_id)
        sent = {name.lower() for name in transaction["headers"]} & every_credential
        refused = status == profile.credentials_status(spec)
        assert sent == (set() if refused else credential_headers(spec, profile)), transaction


def test_dredd_checks_the_file_it_reads(dredd_installed: Path, mock: RunningMock, spec: Spec, tmp_path: Path) -> None:
    """The hooks take the schemas from the file Dredd reads, and fail a response they cannot provoke: on a
    copy of the file whose `Invalid page.` body schema and `Retry-After` header schema the mock does not
    meet (the examples, all Dredd alone would compare with, unchanged), and which documents a 503 the hooks
    know nothing of, those three transactions fail."""
    document = json.loads(json.dumps(spec.document))
    document["components"]["schemas"]["DrfInvalidPage"]["properties"]["detail"]["enum"] = ["Page not found."]
    document["components"]["headers"]["RetryAfter"]["schema"]["minimum"] = 3600
    responses = document["paths"]["/billing_statements"]["get"]["responses"]
    # Not the 500's component: Dredd 14.1.0 names both transactions of one operation whose responses share
    # a component by the last status (the names test would catch it in the contract).
    responses["503"] = {"$ref": "#/components/responses/WePayNotFound"}
    mutated = tmp_path / "openapi.yaml"
    mutated.write_text(yaml.safe_dump(document, sort_keys=False))
    statements = "/billing_statements > Get a collection of billing statements"
    invalid_page = "/api/billing/history/ > Get billing history > 404 > application/json"
    only = [invalid_page, f"{statements} > 429 > application/json", f"{statements} > 503 > application/json"]
    run = run_dredd(mock, mutated, tmp_path / "report.json", *(arg for name in only for arg in ("--only", name)))
    assert run.returncode == 1, run.output
    assert run.summary == (0, 3, 0, 19, 22), run.output
    assert "body: At '/detail' No enum match for: \"Invalid page.\"" in run.output
    assert 'Failed in after hook: header Retry-After: "1" should be >= 3600' in run.output
    assert f'Failed in before hook: no request provokes this response: add "{only[2]}" to PROVOKE' in run.output
