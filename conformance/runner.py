"""Run the suite: first the preflight (the flags against the contract, then one request per API proving it
answers HTTP on its path and takes the given credentials), then Schemathesis' schema checks and the
semantic checks per API.

Under bad input the run stays bounded and readable: a target that gives no HTTP answer on the API's path
(refused, timed out, not HTTP, TLS trouble), or that rejects the given credentials, is a usage error
(exit 2, `conformance.preflight`); one that answers the preflight but then times out, answers HTML,
drops the connection or redirects gives failed checks (exit 1); every request goes through the run's
one `Pacer` (--max-rate, --deadline, 429s) and the run's one `TlsSettings`. When the deadline runs out,
what is left is reported skipped and the run fails with a finding. One root cause is reported once: the
checks that depend on it are reported blocked by the check that found it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from billing_contract import profiles, rules
from billing_contract.spec import Spec
from conformance.checks import checks_for
from conformance.config import SuiteConfig
from conformance.context import CheckContext
from conformance.errors import CredentialsRejected, TargetUnreachable
from conformance.http import Client
from conformance.outcome import Blocked, Failed, Skipped
from conformance.pacing import STOP, DeadlineExceeded, Interrupted, Pacer
from conformance.preflight import FIRST_OPERATION, check_flags, check_targets
from conformance.progress import Progress
from conformance.recorded import from_exchange
from conformance.registry import SemanticCheck
from conformance.report import CheckResult, Finding, Status, SuiteReport
from conformance.schema_checks import run_schema_checks
from conformance.tls import TlsSettings
from conformance.version import package_version

__all__ = ["CredentialsRejected", "TargetUnreachable", "run_semantic_check", "run_suite"]

Say = Callable[[str], None]
DEADLINE_SKIP = "not run: the run's deadline was reached"
INTERRUPTED_SKIP = "not run: the run was interrupted"


def no_response(exc: httpx.HTTPError, timeout: float) -> str:
    """What went wrong at the HTTP level, in words."""
    if isinstance(exc, httpx.TimeoutException):
        return f"no response within {timeout:g}s"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the server closed the connection without a complete response"
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return "the connection was refused or could not be made"
    if isinstance(exc, httpx.DecodingError):
        return "the response body could not be decoded as its Content-Encoding says"
    return "the exchange failed before a complete response"


def _failed(item: SemanticCheck, ctx: CheckContext, started: float, failure: Failed) -> CheckResult:
    def finding(found: Failed) -> Finding:
        exchange = found.exchange or ctx.client.last
        curl = exchange.curl(ctx.client.secrets) if exchange else ""
        return Finding(found.message, found.expected, found.got, curl, from_exchange(exchange, ctx.client.secrets))

    first = finding(failure)
    return CheckResult(
        item.api,
        item.operation,
        item.name,
        Status.FAILED,
        message=first.message,
        expected=first.expected,
        got=first.got,
        curl=first.curl,
        duration=time.monotonic() - started,
        more=tuple(finding(f) for f in failure.more),
        exchange=first.exchange,
    )


def _unreadable(ctx: CheckContext) -> Failed:
    """A check tripped over a body it could not read: say what the last answer breaks, in the API's terms."""
    exchange = ctx.client.last
    operation = rules.operation_of(ctx.spec, exchange.method, exchange.url) if exchange else None
    violations = profiles.check_exchange(ctx.spec, operation, exchange) if exchange and operation else []
    got = "; ".join(f"{v.message}: {v.got}" for v in violations) or (exchange.summary() if exchange else "")
    return Failed("the response could not be read as documented", "a body shaped as the contract says", got, exchange)


@dataclass
class NoResponse:
    """The first check of an API that got no complete response (timeout, closed connection): later checks
    getting none are blocked by it, so one unresponsive target is one failure."""

    first: str | None = None


def run_semantic_check(
    item: SemanticCheck, ctx: CheckContext, no_response_seen: NoResponse | None = None
) -> CheckResult:
    no_response_seen = no_response_seen or NoResponse()
    started = time.monotonic()
    base = {"api": item.api, "operation": item.operation, "check": item.name}

    def result(status: Status, message: str = "", **extra: object) -> CheckResult:
        return CheckResult(**base, status=status, message=message, duration=time.monotonic() - started, **extra)

    try:
        item.func(ctx)
    except Failed as failure:
        return _failed(item, ctx, started, failure)
    except Skipped as skip:
        return result(Status.SKIPPED, str(skip))
    except Blocked as blocked:
        return result(Status.BLOCKED, str(blocked), blocked_by=blocked.blocker)
    except Interrupted:
        return result(Status.SKIPPED, INTERRUPTED_SKIP, interrupted=True)
    except KeyboardInterrupt:
        if not STOP.is_set():
            raise
        # Ctrl-C or SIGTERM (conformance.cli) landed inside this check: undecided, and the run winds down.
        return result(Status.SKIPPED, INTERRUPTED_SKIP, interrupted=True)
    except DeadlineExceeded:
        return result(Status.SKIPPED, DEADLINE_SKIP, cut_by_deadline=True)
    except httpx.HTTPError as exc:
        if isinstance(exc, httpx.TimeoutException) and ctx.client.pacer.expired():
            return result(Status.SKIPPED, DEADLINE_SKIP, cut_by_deadline=True)  # cut by the deadline: undecided
        what = no_response(exc, ctx.client.timeout)
        if no_response_seen.first:
            first = no_response_seen.first
            return result(Status.BLOCKED, f"blocked by {first}: {what}", blocked_by=first)
        no_response_seen.first = item.name
        timed_out = isinstance(exc, httpx.TimeoutException)
        message = f"no response within {ctx.client.timeout:g}s (--timeout)" if timed_out else f"request failed: {what}"
        return _failed(item, ctx, started, Failed(message, "a complete HTTP response", what))
    except Exception:
        # A body shaped unlike the contract, or anything else a broken server provokes: a finding, never a crash.
        return _failed(item, ctx, started, _unreadable(ctx))
    return result(Status.PASSED)


def _semantic_phase(api: str, ctx: CheckContext, config: SuiteConfig, report: SuiteReport, progress: Progress) -> None:
    no_response_seen = NoResponse()
    checks = [item for item in checks_for(api) if item.name not in config.exclude_checks]
    progress.phase(f"{api}: semantic checks", total=len(checks))
    for item in checks:
        if STOP.is_set():
            # Stopped from outside: nothing more starts; what is left is listed in the reports as not run.
            result = CheckResult(
                item.api, item.operation, item.name, Status.SKIPPED, message=INTERRUPTED_SKIP, interrupted=True
            )
        elif ctx.client.pacer.expired():
            # Nothing starts after the deadline, not even a check that could answer from cache.
            result = CheckResult(
                item.api, item.operation, item.name, Status.SKIPPED, message=DEADLINE_SKIP, cut_by_deadline=True
            )
        else:
            result = run_semantic_check(item, ctx, no_response_seen)
        if result.cut_by_deadline:
            report.deadline_reached = True
        progress.say(f"{api}: {item.name} {result.status.value}")
        progress.update(item.name, done=1, failures=int(result.status is Status.FAILED))
        report.results.append(result)


def _schema_phase(
    api: str, config: SuiteConfig, pacer: Pacer, spec: Spec, tls: TlsSettings, report: SuiteReport, progress: Progress
) -> set[str]:
    """Schemathesis' checks for one API; the operations whose 200 body it found breaking the schema."""
    stopped = CheckResult(api, api, "schema_checks", Status.SKIPPED, "schema", INTERRUPTED_SKIP, interrupted=True)
    if STOP.is_set():
        report.results.append(stopped)
        return set()
    if pacer.expired():
        report.deadline_reached = True
        progress.say(f"{api}: schema checks not run, deadline reached")
        return set()
    progress.phase(f"{api}: schema checks (Schemathesis, seed {config.seed}, {config.max_examples} examples)")
    try:
        on_case = lambda label, failed: progress.update(label, done=1, failures=failed)  # noqa: E731
        run = run_schema_checks(config, api, progress.say, pacer, spec, tls, on_case)
    except KeyboardInterrupt:
        if not STOP.is_set():
            raise
        report.results.append(stopped)  # stopped inside Schemathesis before it reported anything
        return set()
    except Exception:
        # Schemathesis giving up is a finding, not a crash.
        report.results.append(
            CheckResult(
                api,
                api,
                "schema_checks",
                Status.FAILED,
                "schema",
                "Schemathesis could not run against this target",
                expected="a target Schemathesis can test",
                got="Schemathesis stopped before testing any operation",
            )
        )
        return set()
    report.results.extend(run.results)
    report.case_fingerprints.update(run.fingerprints)
    report.deadline_reached |= run.deadline_reached
    return run.schema_broken_200


def run_settings(config: SuiteConfig, tls: TlsSettings) -> dict[str, str]:
    """What a report should say the run was given (JUnit properties): never a secret."""
    settings = {"billing-conformance.version": package_version()}
    settings |= {f"{api}-url": config.url_for(api) or "" for api in config.apis}
    settings |= {"seed": str(config.seed), "max-examples": str(config.max_examples), "api-version": config.version}
    settings["tls-verification"] = tls.describe()
    return settings


@contextmanager
def _until_stopped() -> Iterator[None]:
    """A Ctrl-C or SIGTERM inside the block (conformance.cli sets `STOP`, then interrupts) ends only the
    block. The run goes on winding down, every request now refused at once by the pacer, so each check left
    is reported "not run" in the reports instead of being lost."""
    try:
        yield
    except KeyboardInterrupt:
        if not STOP.is_set():
            raise


def _semantic_checks(api: str, config: SuiteConfig, pacer: Pacer, spec: Spec, tls: TlsSettings,
                     report: SuiteReport, broken: set[str], progress: Progress) -> None:  # fmt: skip
    client = Client(
        config.url_for(api) or "", config.auth_headers(api), config.timeout, pacer, config.secrets(), verify=tls.context
    )
    ctx = CheckContext(api, client, spec, config)
    first = spec.operations[FIRST_OPERATION[api]]
    if first.label in broken:
        ctx.schema_reported_by = "response_schema_conformance"
    try:
        _semantic_phase(api, ctx, config, report, progress)
    finally:
        client.close()


def _progress_line(progress: Say | Progress | None, pacer: Pacer, config: SuiteConfig) -> Progress:
    """The run's progress line: the one given, or one writing to the callable given (or to nothing)."""
    if isinstance(progress, Progress):
        progress.requests, progress.max_rate = (lambda: pacer.requests), config.max_rate
        return progress
    return Progress(progress or (lambda _line: None), lambda: pacer.requests, config.max_rate)


def run_suite(
    config: SuiteConfig, progress: Say | Progress | None = None, report: SuiteReport | None = None
) -> SuiteReport:
    """The whole run; UsageError (and its kinds) before any check when the preflight fails. `report` (given
    by the CLI, so that a usage error or an interruption still has the results so far to write) is filled
    in and returned."""
    started = time.monotonic()
    report = report if report is not None else SuiteReport()
    report.deadline = config.deadline
    # One pacer for every request of the run: the preflight, Schemathesis and the semantic checks.
    pacer = Pacer(config.max_rate, started + config.deadline if config.deadline else None)
    line = _progress_line(progress, pacer, config)
    spec = Spec.load(config.spec_path)
    tls = check_flags(config, spec)
    report.tls_verified, report.settings = tls.verify, run_settings(config, tls)
    with _until_stopped():
        check_targets(config, spec, pacer, tls)
    with line:
        for api in config.apis if not STOP.is_set() else ():
            broken: set[str] = set()
            if config.schema_checks:
                with _until_stopped():
                    broken = _schema_phase(api, config, pacer, spec, tls, report, line)
            if config.semantic_checks:
                with _until_stopped():
                    _semantic_checks(api, config, pacer, spec, tls, report, broken, line)
    if STOP.is_set():
        _list_not_run(config, report)
    report.throttled, report.throttled_seconds = pacer.throttled, pacer.throttled_seconds
    report.duration = time.monotonic() - started
    return report


def _list_not_run(config: SuiteConfig, report: SuiteReport) -> None:
    """After an interruption, wherever it landed: each semantic check of the run with no result, and each
    API's Schemathesis checks when none has one, are reported not run (the reports list what was left)."""
    reported = {(r.api, r.check) for r in report.results}
    for api in config.apis:
        if config.schema_checks and not any(r.api == api and r.kind == "schema" for r in report.results):
            report.results.append(
                CheckResult(api, api, "schema_checks", Status.SKIPPED, "schema", INTERRUPTED_SKIP, interrupted=True)
            )
        left = [c for c in checks_for(api) if c.name not in config.exclude_checks and (api, c.name) not in reported]
        for item in left if config.semantic_checks else []:
            report.results.append(
                CheckResult(api, item.operation, item.name, Status.SKIPPED, message=INTERRUPTED_SKIP, interrupted=True)
            )
