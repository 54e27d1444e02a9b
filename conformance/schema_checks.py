"""Schema-level checks through Schemathesis 4's engine: every built-in check, per operation, seeded.

Each check's verdict is reported under its own name per operation: failed if any case failed it,
passed if a case ran it, skipped if none did.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from schemathesis.engine import Status as EngineStatus
from schemathesis.engine import events, from_schema

from conformance.config import TAGS, WEPAY, SuiteConfig
from conformance.report import CheckResult, Status

# A cursor is only valid when the server issued it: a generated one is rightly a 400, so positive cases
# for the cursor-paginated list go without one (negative cases keep theirs).
UNGENERATABLE = {("GET", "/billing_statements"): "page"}


# What each Schemathesis check holds the API to, for the report's "expected" line.
EXPECTATIONS = {
    "not_a_server_error": "no 5xx answer, whatever the input",
    "status_code_conformance": "a status code the operation documents",
    "content_type_conformance": "the documented Content-Type",
    "response_headers_conformance": "every documented response header, matching its schema",
    "response_schema_conformance": "a body matching the documented schema for its status",
    "negative_data_rejection": "invalid input rejected with a 4xx",
    "positive_data_acceptance": "valid input accepted (2xx, or 404 for an unknown id)",
    "ignored_auth": "requests without or with wrong credentials refused (401/403)",
    "missing_required_header": "a request missing a required header rejected (4xx)",
    "unsupported_method": "an undocumented method answered 405 with an Allow header",
    "allow_header_conformance": "Allow lists exactly the documented methods",
    "use_after_free": "a deleted resource stays gone",
    "ensure_resource_availability": "a created resource is available",
    "object_level_authorization": "no access to another owner's objects",
}


@dataclass
class _Tally:
    passed: int = 0
    failed: int = 0
    first_failure: tuple[str, str, str] | None = None
    cases: list[str] = field(default_factory=list)


def _drop_ungeneratable(context: Any, case: Any) -> Any:
    name = UNGENERATABLE.get((case.operation.method.upper(), case.operation.path))
    meta = case.meta
    if name and meta is not None and meta.generation.mode.is_positive and case.query and name in case.query:
        case.query = {k: v for k, v in case.query.items() if k != name}
    return case


def _schema_config(config: SuiteConfig, api: str, remaining: float | None) -> schemathesis.Config:
    project: dict[str, Any] = {
        "seed": config.seed,
        "base-url": config.url_for(api),
        "headers": config.auth_headers(api),
        "request-timeout": config.timeout,
        "generation": {"max-examples": config.max_examples, "deterministic": True, "database": "none"},
        # Stateful links need a schema with `links`; this contract has none.
        "phases": {"stateful": {"enabled": False}},
        "checks": {name: {"enabled": False} for name in sorted(config.exclude_checks)},
        "workers": 1,
    }
    if remaining is not None:
        project["max-time"] = max(1, int(remaining))
    if config.max_rate:
        # Schemathesis takes "N/s"; a fractional rate becomes requests per minute.
        project["rate-limit"] = (
            f"{int(config.max_rate)}/s" if config.max_rate >= 1 else f"{int(config.max_rate * 60)}/m"
        )
    return schemathesis.Config.from_dict(project)


def run_schema_checks(
    config: SuiteConfig,
    api: str,
    remaining: float | None,
    progress: Callable[[str], None],
) -> tuple[list[CheckResult], dict[str, str]]:
    schema = schemathesis.openapi.from_path(str(config.spec_path), config=_schema_config(config, api, remaining))
    schema = schema.include(tag=TAGS[api])
    if api == WEPAY:
        schema.hook("map_case")(_drop_ungeneratable)
    tallies: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    started: dict[tuple[str, str], float] = {}
    # Connexion-based servers log every unknown parameter Schemathesis sends; keep the output readable.
    logging.getLogger("connexion").setLevel(logging.ERROR)
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            _record(event.recorder, tallies, started)
            progress(f"{api} schema {event.phase.value}: {event.recorder.label} {event.status.value}")
        elif isinstance(event, events.NonFatalError):
            progress(f"{api} schema error: {event.label}: {event.info.message}")
        elif isinstance(event, events.FatalError):
            raise RuntimeError(f"Schemathesis failed: {event.exception}") from event.exception
    return _results(api, tallies, config, started)


def _record(recorder: Any, tallies: dict[tuple[str, str], _Tally], started: dict[tuple[str, str], float]) -> None:
    for case_id, nodes in recorder.checks.items():
        case_node = recorder.cases.get(case_id)
        case = case_node.value if case_node is not None else None
        label = case.operation.label if case is not None else recorder.label
        for node in nodes:
            tally = tallies[(label, node.name)]
            started.setdefault((label, node.name), time.monotonic())
            if case is not None:
                tally.cases.append(repr((case.method, case.path, case.path_parameters, case.query, case.headers)))
            if node.status == EngineStatus.FAILURE:
                tally.failed += 1
                if tally.first_failure is None and node.failure_info is not None:
                    failure = node.failure_info.failure
                    interaction = recorder.interactions.get(case_id)
                    status = interaction.response.status_code if interaction and interaction.response else None
                    got = f"HTTP {status}: {failure.message}" if status else failure.message
                    tally.first_failure = (failure.title, got.strip(), node.failure_info.code_sample)
            elif node.status == EngineStatus.SUCCESS:
                tally.passed += 1


def _results(
    api: str,
    tallies: dict[tuple[str, str], _Tally],
    config: SuiteConfig,
    started: dict[tuple[str, str], float],
) -> tuple[list[CheckResult], dict[str, str]]:
    results, fingerprints = [], {}
    for (label, name), tally in sorted(tallies.items()):
        if name in config.exclude_checks:
            continue
        fingerprints[f"{label}::{name}"] = hashlib.sha256("\n".join(sorted(tally.cases)).encode()).hexdigest()[:16]
        if tally.failed:
            title, message, curl = tally.first_failure or ("failed", "", "")
            result = CheckResult(
                api,
                label,
                name,
                Status.FAILED,
                "schema",
                title,
                expected=EXPECTATIONS.get(name, "see the message"),
                got=message,
                curl=curl,
            )
        elif tally.passed:
            result = CheckResult(api, label, name, Status.PASSED, "schema", f"{tally.passed} case(s)")
        else:
            result = CheckResult(api, label, name, Status.SKIPPED, "schema", "no generated case applied")
        results.append(result)
    return results, fingerprints
