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

With `--concurrency N` above 1 the APIs run side by side, each API's Schemathesis phase beside its
semantic checks, and the checks on N threads; at most N requests of an API are in flight at once (its
`Lane`). Nothing in the report depends on N: results are put in the registered order whatever finished
first, the checks that got no response are settled in that order (the first fails, the rest are blocked
by it), and shared walks and pages are fetched once. With N = 1 everything runs one request after
another in the calling thread, as before.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial

import httpx

from billing_contract import profiles, rules
from billing_contract.spec import Spec
from conformance.checks import checks_for
from conformance.concurrency import WaitingGate, run_in_order
from conformance.config import SuiteConfig
from conformance.context import ApiState, CheckContext
from conformance.errors import CredentialsRejected, TargetUnreachable
from conformance.http import Session
from conformance.outcome import Blocked, Failed, Skipped
from conformance.pacing import STOP, DeadlineExceeded, Interrupted, Lane, Pacer
from conformance.preflight import FIRST_OPERATION, check_flags, check_targets
from conformance.progress import Progress
from conformance.recorded import from_exchange
from conformance.registry import SemanticCheck, page_shape_check
from conformance.report import CheckResult, Finding, Status, SuiteReport
from conformance.schema_checks import SchemaRun, quiet_schemathesis, run_schema_checks
from conformance.tls import TlsSettings
from conformance.version import package_version

__all__ = ["CredentialsRejected", "TargetUnreachable", "run_semantic_check", "run_suite"]

Say = Callable[[str], None]
DEADLINE_SKIP = "not run: the run's deadline was reached"
INTERRUPTED_SKIP = "not run: the run was interrupted"
SCHEMA_CHECK = "response_schema_conformance"


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
        requests=ctx.client.requests,
    )


def _unreadable(ctx: CheckContext) -> Failed:
    """A check tripped over a body it could not read: say what the last answer breaks, in the API's terms."""
    exchange = ctx.client.last
    operation = rules.operation_of(ctx.spec, exchange.method, exchange.url) if exchange else None
    violations = profiles.check_exchange(ctx.spec, operation, exchange) if exchange and operation else []
    got = "; ".join(f"{v.message}: {v.got}" for v in violations) or (exchange.summary() if exchange else "")
    return Failed("the response could not be read as documented", "a body shaped as the contract says", got, exchange)


@dataclass(frozen=True)
class Attempt:
    """A check's result, and what got no response when that was why it failed (the runner settles
    those: the first such check of an API in registered order fails, the later ones are blocked by it)."""

    result: CheckResult
    no_response: str = ""


def _attempt(item: SemanticCheck, ctx: CheckContext) -> Attempt:
    started = time.monotonic()
    base = {"api": item.api, "operation": item.operation, "check": item.name}

    def result(status: Status, message: str = "", **extra: object) -> CheckResult:
        duration = time.monotonic() - started
        return CheckResult(**base, status=status, message=message, duration=duration, **extra)

    try:
        item.func(ctx)
    except Failed as failure:
        return Attempt(_failed(item, ctx, started, failure))
    except Skipped as skip:
        return Attempt(result(Status.SKIPPED, str(skip), requests=ctx.client.requests))
    except Blocked as blocked:
        return Attempt(result(Status.BLOCKED, str(blocked), blocked_by=blocked.blocker, requests=ctx.client.requests))
    except Interrupted:
        return Attempt(result(Status.SKIPPED, INTERRUPTED_SKIP, interrupted=True))
    except KeyboardInterrupt:
        if not STOP.is_set():
            raise
        # Ctrl-C or SIGTERM (conformance.cli) landed inside this check: undecided, and the run winds down.
        return Attempt(result(Status.SKIPPED, INTERRUPTED_SKIP, interrupted=True))
    except DeadlineExceeded:
        return Attempt(result(Status.SKIPPED, DEADLINE_SKIP, cut_by_deadline=True))
    except httpx.HTTPError as exc:
        if isinstance(exc, httpx.TimeoutException) and ctx.client.pacer.expired():
            return Attempt(result(Status.SKIPPED, DEADLINE_SKIP, cut_by_deadline=True))  # cut by the deadline
        what = no_response(exc, ctx.client.timeout)
        timed_out = isinstance(exc, httpx.TimeoutException)
        message = f"no response within {ctx.client.timeout:g}s (--timeout)" if timed_out else f"request failed: {what}"
        return Attempt(_failed(item, ctx, started, Failed(message, "a complete HTTP response", what)), what)
    except Exception:
        # A body shaped unlike the contract, or anything else a broken server provokes: a finding, never a crash.
        return Attempt(_failed(item, ctx, started, _unreadable(ctx)))
    return Attempt(result(Status.PASSED, requests=ctx.client.requests))


def run_semantic_check(item: SemanticCheck, ctx: CheckContext) -> CheckResult:
    """One semantic check, its outcome as a result (a check never raises out of here)."""
    return _attempt(item, ctx).result


@dataclass
class _InOrder:
    """Collects an API's check results as they finish and hands them on in registered order, settling
    the ones that got no response on the way: the first fails, the later ones are blocked by it. Each
    result is final when it is passed on (to the progress lines too), whichever check finished first."""

    progress: Progress
    results: list[CheckResult | None]
    done: dict[int, Attempt] = field(default_factory=dict)
    next_index: int = 0
    first_no_response: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, index: int, attempt: Attempt) -> None:
        with self.lock:
            self.done[index] = attempt
            while self.next_index in self.done:
                result = self._settled(self.done.pop(self.next_index))
                self.results[self.next_index] = result
                self.next_index += 1
                self.progress.say(f"{result.api}: {result.check} {result.status.value}")
                self.progress.update(result.check, done=1, failures=int(result.status is Status.FAILED))

    def _settled(self, attempt: Attempt) -> CheckResult:
        result = attempt.result
        if not attempt.no_response:
            return result
        if not self.first_no_response:
            self.first_no_response = result.check
            return result
        first = self.first_no_response
        return CheckResult(
            result.api,
            result.operation,
            result.check,
            Status.BLOCKED,
            message=f"blocked by {first}: {attempt.no_response}",
            duration=result.duration,
            blocked_by=first,
            requests=result.requests,
        )


def _one_check(item: SemanticCheck, state: ApiState) -> Attempt:
    if STOP.is_set():
        # Stopped from outside: nothing more starts; what is left is listed in the reports as not run.
        stopped = CheckResult(
            item.api, item.operation, item.name, Status.SKIPPED, message=INTERRUPTED_SKIP, interrupted=True
        )
        return Attempt(stopped)
    if state.session.pacer.expired():
        # Nothing starts after the deadline, not even a check that could answer from cache.
        skipped = CheckResult(
            item.api, item.operation, item.name, Status.SKIPPED, message=DEADLINE_SKIP, cut_by_deadline=True
        )
        return Attempt(skipped)
    return _attempt(item, CheckContext(state))


def _semantic_phase(state: ApiState, progress: Progress) -> list[CheckResult]:
    """The API's semantic checks on up to `--concurrency` threads, their results in registered order."""
    items = [item for item in checks_for(state.api) if item.name not in state.config.exclude_checks]
    progress.phase(f"{state.api}: semantic checks", total=len(items))
    collected = _InOrder(progress, [None] * len(items))

    def task(index: int, item: SemanticCheck) -> None:
        collected.add(index, _one_check(item, state))

    tasks = [partial(task, index, item) for index, item in enumerate(items)]
    run_in_order(tasks, state.config.concurrency, on_interrupt=state.session.pacer.stop)
    return [result for result in collected.results if result is not None]


def _schema_phase(
    api: str, config: SuiteConfig, lane: Lane, spec: Spec, tls: TlsSettings, gate: WaitingGate, progress: Progress
) -> SchemaRun:
    """Schemathesis' checks for one API (an empty run when the deadline is already spent)."""
    stopped = CheckResult(api, api, "schema_checks", Status.SKIPPED, "schema", INTERRUPTED_SKIP, interrupted=True)
    if STOP.is_set():
        return SchemaRun([stopped], {})
    if lane.pacer.expired():
        progress.say(f"{api}: schema checks not run, deadline reached")
        return SchemaRun([], {}, deadline_reached=True)
    progress.phase(f"{api}: schema checks (Schemathesis, seed {config.seed}, {config.max_examples} examples)")
    try:
        on_case = lambda label, failed: progress.update(label, done=1, failures=failed)  # noqa: E731
        return run_schema_checks(config, api, progress.say, lane, spec, tls, gate, on_case)
    except KeyboardInterrupt:
        if not STOP.is_set():
            raise
        return SchemaRun([stopped], {})  # stopped inside Schemathesis before it reported anything
    except Exception:
        # Schemathesis giving up is a finding, not a crash.
        failed = CheckResult(
            api,
            api,
            "schema_checks",
            Status.FAILED,
            "schema",
            "Schemathesis could not run against this target",
            expected="a target Schemathesis can test",
            got="Schemathesis stopped before testing any operation",
        )
        return SchemaRun([failed], {})


class _Verdict:
    """Which Schemathesis check reported page 1's documented 200 body breaking the schema, once the API's
    Schemathesis phase has ended (asked only by a check that found page 1 wrong)."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._reporter: str | None = None

    def settle(self, reporter: str | None) -> None:
        self._reporter = reporter
        self._done.set()

    def __call__(self) -> str | None:
        self._done.wait()
        return self._reporter


@dataclass
class ApiRun:
    """What one API's phases found."""

    results: list[CheckResult] = field(default_factory=list)
    fingerprints: dict[str, str] = field(default_factory=dict)
    deadline_reached: bool = False


def _run_api(
    api: str, config: SuiteConfig, pacer: Pacer, spec: Spec, tls: TlsSettings, gate: WaitingGate, say: Progress
) -> ApiRun:  # `say`: the run's progress line
    """One API: Schemathesis' phase and the semantic checks, side by side when --concurrency allows (its
    engines when `gate`, the run's, has seen the backend is slow enough for it to pay)."""
    lane = Lane(pacer, api, config.concurrency)
    first = spec.operations[FIRST_OPERATION[api]]
    verdict = _Verdict()
    schema = SchemaRun([], {})

    def schema_phase() -> list[CheckResult]:
        nonlocal schema
        try:
            if config.schema_checks:
                with _until_stopped():
                    schema = _schema_phase(api, config, lane, spec, tls, gate, say)
        finally:
            broken = f"{first.method.upper()} {first.path}" in schema.schema_broken_200
            verdict.settle(SCHEMA_CHECK if broken else None)
        return schema.results

    def semantic_phase() -> list[CheckResult]:
        if not config.semantic_checks:
            return []
        headers = config.auth_headers(api)
        session = Session(config.url_for(api) or "", headers, config.timeout, lane, config.secrets(), tls.context)
        excluded = config.exclude_checks
        shape = page_shape_check(api)
        state = ApiState(api, session, spec, config, first.path, None if shape in excluded else shape, verdict)
        try:
            with _until_stopped():
                return _semantic_phase(state, say)
            return []
        finally:
            session.close()

    workers = 2 if config.concurrency > 1 else 1
    schema_results, semantic_results = run_in_order([schema_phase, semantic_phase], workers, pacer.stop)
    deadline = schema.deadline_reached or any(r.cut_by_deadline for r in semantic_results)
    return ApiRun([*schema_results, *semantic_results], schema.fingerprints, deadline)


def run_settings(config: SuiteConfig, tls: TlsSettings) -> dict[str, str]:
    """What a report should say the run was given (JUnit properties): never a secret."""
    settings = {"billing-conformance.version": package_version()}
    settings |= {f"{api}-url": config.url_for(api) or "" for api in config.apis}
    settings |= {"seed": str(config.seed), "max-examples": str(config.max_examples), "api-version": config.version}
    settings["concurrency"] = str(config.concurrency)
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


def _progress_line(progress: Say | Progress | None, pacer: Pacer, config: SuiteConfig) -> Progress:
    """The run's progress line (thread-safe: whole lines): the one given, or one writing to the callable
    given (or to nothing)."""
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
    say = _progress_line(progress, pacer, config)
    spec = Spec.load(config.spec_path)
    tls = check_flags(config, spec)
    report.tls_verified, report.settings = tls.verify, run_settings(config, tls)
    with _until_stopped():
        check_targets(config, spec, pacer, tls)
    # The run's Schemathesis engines take turns until answers are seen to be slow (conformance.concurrency).
    gate = WaitingGate()
    apis = config.apis if not STOP.is_set() else ()
    tasks = [partial(_run_api, api, config, pacer, spec, tls, gate, say) for api in apis]
    runs: list[ApiRun] = []
    with quiet_schemathesis(tls), say, _until_stopped():
        runs = run_in_order(tasks, len(tasks) if config.concurrency > 1 else 1, pacer.stop)
    for run in runs:
        report.results.extend(run.results)
        report.case_fingerprints.update(run.fingerprints)
        report.deadline_reached |= run.deadline_reached
    if STOP.is_set():
        _list_not_run(config, report)
    report.throttled, report.throttled_seconds = pacer.throttled, pacer.throttled_seconds
    report.requests = pacer.requests
    report.requests_by_api = {api: pacer.requests_by[api] for api in config.apis}
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
