"""Fuzz the mock with Schemathesis: every check, positive and negative data, every phase.

    python -m tests.hardening.fuzz            # >= 10,000 cases against an in-thread mock
    python -m tests.hardening.fuzz --cases 2000 --url http://127.0.0.1:4010

Credentials go in as plain headers. Two things the schema cannot express are handled here rather
than by weakening a check: WePay's `page` is an opaque cursor (a generated string is rightly a
`400`), and a cursor may not be combined with other query parameters. So a *positive* case for the
collection keeps `page` only when it is a server-issued cursor (taken from a response link in the
stateful phase), and then sends it alone; otherwise the generated `page` is dropped.

Exit status 0 when the run is clean and reached the requested number of cases, 1 otherwise.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import json
import logging
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from schemathesis.engine import events
from schemathesis.generation import GenerationMode

from billing_contract.spec import DEFAULT_SPEC_PATH
from mock_server.config import MockConfig
from mock_server.testing import running_mock

CURSOR_OPERATION = "listBillingStatements"
CURSOR_PARAM = "page"
DEFAULT_CASES = 10_000
MAX_ROUNDS = 200
OPERATIONS = 3


@dataclass
class FuzzResult:
    cases: int = 0
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    stop_reason: str = ""
    rounds: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures and not self.errors

    def summary(self) -> str:
        return (
            f"fuzz: {self.cases} cases in {self.rounds} round(s), {self.elapsed:.1f}s, {len(self.failures)} failures, "
            f"{len(self.errors)} errors, stop: {self.stop_reason}"
        )


def looks_issued(token: str) -> bool:
    """Whether `token` has the shape of a cursor the server wrote (`<b64url json>.<b64url mac>`).

    Only shape: the server still verifies the signature. Generated strings never have it.
    """
    parts = token.split(".")
    if len(parts) != 2 or not all(parts):
        return False
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
    except (binascii.Error, ValueError):
        return False
    return isinstance(payload, dict) and {"o", "s", "f"} <= payload.keys()


def _is_positive(case: schemathesis.Case) -> bool:
    meta = case.meta
    return meta is None or meta.generation.mode is GenerationMode.POSITIVE


def fit_cursor(case: schemathesis.Case) -> schemathesis.Case:
    """A positive collection case sends an issued cursor alone, and never a generated one."""
    query = case.query
    if not _is_positive(case) or not isinstance(query, dict) or CURSOR_PARAM not in query:
        return case
    token = query[CURSOR_PARAM]
    if isinstance(token, str) and looks_issued(token):
        case.query = {CURSOR_PARAM: token}
    else:
        case.query = {k: v for k, v in query.items() if k != CURSOR_PARAM}
    return case


def load_schema(base_url: str, headers: dict[str, str], cases: int, seed: int) -> schemathesis.BaseSchema:
    """The contract with every check on, both generation modes, `cases` fuzzing draws spread over the
    operations, and the cursor hook."""
    per_operation = max(1, -(-cases // OPERATIONS))
    config = schemathesis.Config.from_dict(
        {
            "seed": seed,
            "suppress-health-check": ["all"],
            "headers": headers,
            "base-url": base_url,
            "request-timeout": 10,
            "checks": {"enabled": True},
            "generation": {"mode": "all", "max-examples": per_operation, "no-shrink": True},
        }
    )
    schema = schemathesis.openapi.from_path(str(DEFAULT_SPEC_PATH), config=config)

    @schema.hook
    def map_case(context: schemathesis.HookContext, case: schemathesis.Case) -> schemathesis.Case:
        if context.operation is not None and context.operation.definition.raw.get("operationId") == CURSOR_OPERATION:
            return fit_cursor(case)
        return case

    return schema


def _describe_failures(recorder: Any) -> Iterator[str]:
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.failure_info is not None:
                failure = check.failure_info.failure
                yield f"{failure.code} {failure.title}: {check.failure_info.code_sample} [{case_id}]"


def _run_once(schema: schemathesis.BaseSchema, result: FuzzResult) -> None:
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            result.cases += len(event.recorder.cases)
            result.failures.extend(_describe_failures(event.recorder))
        elif isinstance(event, events.NonFatalError):
            result.errors.append(f"{event.label}: {event.value!r}")
        elif isinstance(event, events.FatalError):
            result.errors.append(f"fatal: {event.exception!r}")
        elif isinstance(event, events.EngineFinished):
            result.stop_reason = str(event.stop_reason)
            result.failures.extend(f"{f.code} {f.title}: {f.message}" for f in event.failures)


def run_fuzz(
    base_url: str, headers: dict[str, str], cases: int = DEFAULT_CASES, seed: int = 0, max_rounds: int = MAX_ROUNDS
) -> FuzzResult:
    """Run every phase, round after round (seed, seed + 1, ...), until at least `cases` cases ran.

    Hypothesis may stop a round early once it has seen enough of a small input space, so a round's
    yield varies; rounds repeat until the total is reached, a failure shows up, or `max_rounds`.
    """
    result = FuzzResult()
    started = time.monotonic()
    while result.cases < cases and result.rounds < max_rounds and result.ok:
        round_seed = seed + result.rounds
        # the examples, coverage and stateful phases roughly double what fuzzing draws
        draws = max(OPERATIONS * 10, (cases - result.cases) // 3)
        _run_once(load_schema(base_url, headers, draws, round_seed), result)
        result.rounds += 1
    result.elapsed = time.monotonic() - started
    return result


@contextlib.contextmanager
def target(
    url: str | None, bearer: str | None, app_id: str | None, app_token: str | None
) -> Iterator[tuple[str, dict[str, str]]]:
    """The base URL and credential headers: the given server, or a fresh mock in a thread."""
    if url is not None:
        from mock_server.security import Credentials

        creds = Credentials(
            **{
                k: v
                for k, v in (("bearer_token", bearer), ("app_id", app_id), ("app_token", app_token))
                if v is not None
            }
        )
        yield url.rstrip("/"), credential_headers(creds.bearer_token, creds.app_id, creds.app_token)
        return
    # connexion logs one ERROR line per unknown query parameter (handlers take **kwargs); the
    # fuzzer sends thousands, so keep them out of the report.
    logging.getLogger("connexion.decorators.parameter").setLevel(logging.CRITICAL)
    with running_mock(MockConfig()) as mock:
        c = mock.credentials
        yield mock.url, credential_headers(c.bearer_token, c.app_id, c.app_token)


def credential_headers(bearer: str, app_id: str, app_token: str) -> dict[str, str]:
    """Both APIs' credentials at once: each API ignores the other's headers."""
    return {"Authorization": f"Bearer {bearer}", "App-Id": app_id, "App-Token": app_token, "Api-Version": "3.0"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--cases", type=int, default=DEFAULT_CASES, help="minimum number of cases to run")
    parser.add_argument("--url", help="fuzz this server instead of an in-thread mock")
    parser.add_argument("--bearer-token")
    parser.add_argument("--app-id")
    parser.add_argument("--app-token")
    parser.add_argument("--seed", type=int, default=0, help="first round's seed (rounds use seed, seed + 1, ...)")
    args = parser.parse_args(argv)
    with target(args.url, args.bearer_token, args.app_id, args.app_token) as (url, headers):
        result = run_fuzz(url, headers, args.cases, args.seed)
    for line in result.failures + result.errors:
        print(line)
    print(result.summary())
    return 0 if result.ok and result.cases >= args.cases else 1


if __name__ == "__main__":
    sys.exit(main())
