"""Run the suite: probe each target, then Schemathesis' schema checks and the semantic checks per API.

Under bad input the run stays bounded and readable: a target that does not accept connections is a usage
error (exit 2); one that connects but times out, answers HTML, drops the connection or redirects gives
failed checks (exit 1); every request respects --timeout, --max-rate and --deadline, and 429s are waited
out. When the deadline runs out, what is left is reported skipped and the run fails with a finding.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from billing_contract.spec import Spec
from conformance.config import SuiteConfig
from conformance.context import CheckContext
from conformance.http import Client, DeadlineExceeded, RateLimiter, Throttled, remaining
from conformance.registry import Failed, SemanticCheck, Skipped, checks_for
from conformance.report import CheckResult, Status, SuiteReport
from conformance.schema_checks import run_schema_checks

Progress = Callable[[str], None]
DEADLINE_SKIP = "not run: the run's deadline was reached"


class TargetUnreachable(Exception):
    """A target URL does not accept connections at all (the CLI exits 2)."""


def _probe(config: SuiteConfig, api: str, limiter: RateLimiter) -> None:
    """Unreachable means no connection; a target that connects but misbehaves is for the checks to report."""
    url = config.url_for(api)
    try:
        limiter.wait()
    except DeadlineExceeded:
        return
    try:
        httpx.get(f"{url}/", timeout=min(config.timeout, 5.0), follow_redirects=False)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol) as exc:
        raise TargetUnreachable(f"{api} target {url} is unreachable: {exc.__class__.__name__}: {exc}") from None
    except httpx.HTTPError:
        pass


def _failed(
    base: dict[str, str], ctx: CheckContext, started: float, message: str, expected: str, got: str
) -> CheckResult:
    exchange = ctx.client.last
    return CheckResult(
        **base,
        status=Status.FAILED,
        message=message,
        expected=expected,
        got=got,
        curl=exchange.curl(ctx.client.secrets) if exchange else "",
        duration=time.monotonic() - started,
    )


def run_semantic_check(item: SemanticCheck, ctx: CheckContext) -> CheckResult:
    started = time.monotonic()
    base = {"api": item.api, "operation": item.operation, "check": item.name}
    try:
        item.func(ctx)
    except Failed as failure:
        exchange = failure.exchange or ctx.client.last
        return CheckResult(
            **base,
            status=Status.FAILED,
            message=failure.message,
            expected=failure.expected,
            got=failure.got,
            curl=exchange.curl(ctx.client.secrets) if exchange else "",
            duration=time.monotonic() - started,
        )
    except Skipped as skip:
        return CheckResult(**base, status=Status.SKIPPED, message=str(skip), duration=time.monotonic() - started)
    except DeadlineExceeded:
        return CheckResult(**base, status=Status.SKIPPED, message=DEADLINE_SKIP, duration=time.monotonic() - started)
    except httpx.TimeoutException as exc:
        if remaining(ctx.client.deadline_at) is not None and (remaining(ctx.client.deadline_at) or 0) <= 0:
            # Cut short by the deadline, not by the server: undecided.
            return CheckResult(
                **base, status=Status.SKIPPED, message=DEADLINE_SKIP, duration=time.monotonic() - started
            )
        return _failed(
            base,
            ctx,
            started,
            f"no response within {ctx.client.timeout:g}s (--timeout)",
            f"a complete response within {ctx.client.timeout:g}s",
            f"{exc.__class__.__name__}: {exc}",
        )
    except httpx.HTTPError as exc:
        return _failed(
            base,
            ctx,
            started,
            f"request failed: {exc.__class__.__name__} (connection closed or broken before a complete response)",
            "an HTTP response",
            f"{exc.__class__.__name__}: {exc}",
        )
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        # A body shaped unlike the contract breaks the check's reading of it: that is a failure, not a crash.
        return _failed(
            base,
            ctx,
            started,
            "the response could not be read as documented",
            "a body shaped as the contract says",
            f"{exc.__class__.__name__}: {exc}",
        )
    except Exception as exc:
        # Whatever a broken server provokes is a finding, never a crash.
        return _failed(
            base,
            ctx,
            started,
            "the check could not finish on this response",
            "a response the check can read",
            f"{exc.__class__.__name__}: {exc}",
        )
    return CheckResult(**base, status=Status.PASSED, duration=time.monotonic() - started)


def _expired(deadline_at: float | None) -> bool:
    return deadline_at is not None and time.monotonic() >= deadline_at


def run_suite(config: SuiteConfig, progress: Progress | None = None) -> SuiteReport:
    say = progress or (lambda _message: None)
    started = time.monotonic()
    deadline_at = started + config.deadline if config.deadline else None
    # One limiter and one deadline for every request of the run: probes, Schemathesis and semantic checks.
    limiter = RateLimiter(config.max_rate, deadline_at)
    throttled = Throttled()
    for api in config.apis:
        _probe(config, api, limiter)
    spec = Spec.load(config.spec_path)
    report = SuiteReport(deadline=config.deadline)
    for api in config.apis:
        if config.schema_checks:
            if _expired(deadline_at):
                report.deadline_reached = True
                say(f"{api}: schema checks not run, deadline reached")
            else:
                say(f"{api}: schema checks (Schemathesis, seed {config.seed}, {config.max_examples} examples)")
                try:
                    run = run_schema_checks(config, api, deadline_at, say, limiter, throttled)
                except Exception as exc:
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
                            got=f"{exc.__class__.__name__}: {exc}",
                        )
                    )
                else:
                    report.results.extend(run.results)
                    report.case_fingerprints.update(run.fingerprints)
                    report.deadline_reached |= run.deadline_reached
        if config.semantic_checks:
            client = Client(
                config.url_for(api) or "",
                config.auth_headers(api),
                config.timeout,
                limiter,
                deadline_at,
                config.secrets(),
                throttled,
            )
            ctx = CheckContext(api, client, spec, config)
            try:
                for item in checks_for(api):
                    if item.name in config.exclude_checks:
                        continue
                    if _expired(deadline_at):
                        # Nothing starts after the deadline, not even a check that could answer from cache.
                        result = CheckResult(item.api, item.operation, item.name, Status.SKIPPED, message=DEADLINE_SKIP)
                    else:
                        result = run_semantic_check(item, ctx)
                    if result.message == DEADLINE_SKIP:
                        report.deadline_reached = True
                    say(f"{api}: {item.name} {result.status.value}")
                    report.results.append(result)
            finally:
                client.close()
    report.throttled, report.throttled_seconds = throttled.count, throttled.seconds
    report.duration = time.monotonic() - started
    return report
