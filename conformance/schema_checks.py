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

import requests
import schemathesis
from schemathesis.engine import Status as EngineStatus
from schemathesis.engine import events, from_schema
from schemathesis.engine.run import PhaseName
from schemathesis.engine.run.unit._case import BudgetExpired

from billing_contract import TAGS, WEPAY
from conformance.config import SuiteConfig
from conformance.http import DeadlineExceeded, RateLimiter, Throttled, remaining, wait_out_429
from conformance.report import CheckResult, Status

# Schemathesis' probing phase sends this many requests of its own, outside any transport or rate limit.
PROBE_REQUESTS = 2

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
    "schema_request_errors": "a complete HTTP response to every generated request, within --timeout",
}
# Reported per operation when Schemathesis got no usable answer (its "errors", not check failures).
ERROR_CHECK = "schema_request_errors"


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


@dataclass
class SchemaRun:
    results: list[CheckResult]
    fingerprints: dict[str, str]
    # A request found the deadline spent and Schemathesis was stopped: the phase is incomplete.
    deadline_reached: bool = False


class _PacedTransport:
    """Schemathesis' requests transport behind the run's rate limiter, deadline and 429 handling.

    Schemathesis 4.32 has its own `rate-limit` (pyrate-limiter, "N/s" with whole N, bursts allowed) and an
    "auto" mode that waits out 429s, but not both at once, not sharing the semantic checks' limiter and
    not bounded by our deadline; so every generated request goes through here instead.

    Its `max-time` is no deadline either: given one, the engine keeps cycling its phases until the time is
    spent. So none is given, and once the deadline is spent this transport raises Schemathesis' own
    budget-expired interrupt, which ends each remaining operation at its first case without a verdict.
    """

    def __init__(self, inner: Any, limiter: RateLimiter, deadline_at: float | None, throttled: Throttled) -> None:
        self._inner = inner
        self.limiter = limiter
        self.deadline_at = deadline_at
        self.throttled = throttled
        self.deadline_reached = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _deadline(self) -> BudgetExpired:
        self.deadline_reached = True
        return BudgetExpired()

    def send(self, case: Any, *, session: Any = None, **kwargs: Any) -> Any:
        attempt = 0
        while True:
            try:
                self.limiter.wait()
            except DeadlineExceeded:
                raise self._deadline() from None
            left = remaining(self.deadline_at)
            clamped = False
            if left is not None:
                if left <= 0:
                    raise self._deadline()
                timeout = kwargs.get("timeout") or case.operation.schema.config.request_timeout_for(
                    operation=case.operation
                )
                clamped = timeout is None or left < timeout
                kwargs["timeout"] = left if clamped else timeout
            try:
                response = self._inner.send(case, session=session, **kwargs)
            except requests.Timeout:
                # Cut short by the deadline rather than by --timeout: no verdict, not a failure.
                if clamped:
                    raise self._deadline() from None
                raise
            value = response.headers.get("retry-after")
            if isinstance(value, list):
                value = value[0] if value else None
            try:
                delay = wait_out_429(response.status_code, value, attempt, self.deadline_at)
            except DeadlineExceeded:
                self.deadline_reached = True
                return response
            if delay is None:
                return response
            self.throttled.add(delay)
            time.sleep(delay)
            attempt += 1


def _pace(schema: Any, transport: _PacedTransport) -> Any:
    """`schema.transport` is a read-only property chosen from `schema.app`: give this one schema a subclass
    whose property answers the paced transport (the layout is unchanged, so the class can be swapped)."""
    cls = type(schema)
    schema.__class__ = type(cls.__name__, (cls,), {"__slots__": (), "transport": property(lambda _self: transport)})
    return schema


def _schema_config(config: SuiteConfig, api: str) -> schemathesis.Config:
    project: dict[str, Any] = {
        "seed": config.seed,
        "base-url": config.url_for(api),
        "headers": config.auth_headers(api),
        "request-timeout": config.timeout,
        "generation": {"max-examples": config.max_examples, "deterministic": True, "database": "none"},
        # Stateful links need a schema with `links`; this contract has none.
        "phases": {"stateful": {"enabled": False}},
        # A redirect is the answer under test, never followed (not even to the same host).
        "max-redirects": 0,
        "checks": {name: {"enabled": False} for name in sorted(config.exclude_checks)},
        "workers": 1,
    }
    # No "max-time" and no "rate-limit": the paced transport applies the run's deadline and limiter.
    return schemathesis.Config.from_dict(project)


def run_schema_checks(
    config: SuiteConfig,
    api: str,
    deadline_at: float | None,
    progress: Callable[[str], None],
    limiter: RateLimiter | None = None,
    throttled: Throttled | None = None,
) -> SchemaRun:
    limiter = limiter or RateLimiter(config.max_rate, deadline_at)
    schema = schemathesis.openapi.from_path(str(config.spec_path), config=_schema_config(config, api))
    schema = schema.include(tag=TAGS[api])
    transport = _PacedTransport(schema.transport, limiter, deadline_at, throttled or Throttled())
    schema = _pace(schema, transport)
    if api == WEPAY:
        schema.hook("map_case")(_drop_ungeneratable)
    tallies: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
    started: dict[tuple[str, str], float] = {}
    errors: dict[str, tuple[int, events.NonFatalError]] = {}
    # Connexion-based servers log every unknown parameter Schemathesis sends; keep the output readable.
    logging.getLogger("connexion").setLevel(logging.ERROR)
    # The probes go out first, outside the transport: take their slots from the limiter before, and count
    # them again once they are done (which only ever spaces the next requests further).
    try:
        limiter.wait(PROBE_REQUESTS)
    except DeadlineExceeded:
        return SchemaRun([], {}, deadline_reached=True)
    for event in from_schema(schema).execute():
        if isinstance(event, events.PhaseFinished) and event.phase.name == PhaseName.PROBING:
            limiter.stamp(PROBE_REQUESTS)
        elif isinstance(event, events.ScenarioFinished):
            _record(event.recorder, tallies, started)
            progress(f"{api} schema {event.phase.value}: {event.recorder.label} {event.status.value}")
        elif isinstance(event, events.NonFatalError):
            count, first = errors.get(event.label, (0, event))
            errors[event.label] = (count + 1, first)
            progress(f"{api} schema error: {event.label}: {event.info.message}")
        elif isinstance(event, events.FatalError):
            raise RuntimeError(f"Schemathesis failed: {event.exception}") from event.exception
    results, fingerprints = _results(api, tallies, config, started, transport.deadline_reached)
    results += [_error_result(api, label, count, first) for label, (count, first) in sorted(errors.items())]
    return SchemaRun(results, fingerprints, transport.deadline_reached)


def _error_result(api: str, label: str, count: int, event: events.NonFatalError) -> CheckResult:
    """Schemathesis could not test an operation (no response: timeout, dropped connection...): a finding."""
    info = event.info
    return CheckResult(
        api,
        label,
        ERROR_CHECK,
        Status.FAILED,
        "schema",
        f"{info.title} ({count} scenario(s) could not be tested)",
        expected=EXPECTATIONS[ERROR_CHECK],
        got=info.message.strip(),
        curl=(info.code_sample or "").strip(),
    )


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
    incomplete: bool = False,
) -> tuple[list[CheckResult], dict[str, str]]:
    """One result per (operation, check); when the deadline cut the phase short, no check is passed on
    the cases it happened to reach: it is skipped (a failure found before stays a failure)."""
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
        elif tally.passed and incomplete:
            message = f"not decided: the run's deadline was reached after {tally.passed} passing case(s)"
            result = CheckResult(api, label, name, Status.SKIPPED, "schema", message)
        elif tally.passed:
            result = CheckResult(api, label, name, Status.PASSED, "schema", f"{tally.passed} case(s)")
        else:
            result = CheckResult(api, label, name, Status.SKIPPED, "schema", "no generated case applied")
        results.append(result)
    return results, fingerprints
