"""Run the suite: probe each target, then Schemathesis' schema checks and the semantic checks per API."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from conformance.config import SuiteConfig
from conformance.context import CheckContext
from conformance.http import Client, DeadlineExceeded, RateLimiter
from conformance.registry import Failed, SemanticCheck, Skipped, checks_for
from conformance.report import CheckResult, Status, SuiteReport
from conformance.schema_checks import run_schema_checks
from mock_server.spec import Spec

Progress = Callable[[str], None]


class TargetUnreachable(Exception):
    """A target URL does not answer HTTP at all (the CLI exits 2)."""


def _probe(config: SuiteConfig, api: str) -> None:
    url = config.url_for(api)
    try:
        httpx.get(f"{url}/", timeout=min(config.timeout, 5.0))
    except httpx.HTTPError as exc:
        raise TargetUnreachable(f"{api} target {url} is unreachable: {exc.__class__.__name__}: {exc}") from None


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
        return CheckResult(
            **base,
            status=Status.SKIPPED,
            message="the run's deadline was reached",
            duration=time.monotonic() - started,
        )
    except httpx.HTTPError as exc:
        exchange = ctx.client.last
        return CheckResult(
            **base,
            status=Status.FAILED,
            message=f"request failed: {exc.__class__.__name__}",
            expected="an HTTP response",
            got=str(exc),
            curl=exchange.curl(ctx.client.secrets) if exchange else "",
            duration=time.monotonic() - started,
        )
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        # A body shaped unlike the contract breaks the check's reading of it: that is a failure, not a crash.
        exchange = ctx.client.last
        return CheckResult(
            **base,
            status=Status.FAILED,
            message="the response could not be read as documented",
            expected="a body shaped as the contract says",
            got=f"{exc.__class__.__name__}: {exc}",
            curl=exchange.curl(ctx.client.secrets) if exchange else "",
            duration=time.monotonic() - started,
        )
    return CheckResult(**base, status=Status.PASSED, duration=time.monotonic() - started)


def run_suite(config: SuiteConfig, progress: Progress | None = None) -> SuiteReport:
    say = progress or (lambda _message: None)
    started = time.monotonic()
    deadline_at = started + config.deadline if config.deadline else None
    for api in config.apis:
        _probe(config, api)
    spec = Spec.load(config.spec_path)
    limiter = RateLimiter(config.max_rate)
    report = SuiteReport()
    for api in config.apis:
        if config.schema_checks:
            remaining = deadline_at - time.monotonic() if deadline_at else None
            say(f"{api}: schema checks (Schemathesis, seed {config.seed}, {config.max_examples} examples)")
            results, fingerprints = run_schema_checks(config, api, remaining, say)
            report.results.extend(results)
            report.case_fingerprints.update(fingerprints)
        if config.semantic_checks:
            client = Client(
                config.url_for(api) or "",
                config.auth_headers(api),
                config.timeout,
                limiter,
                deadline_at,
                config.secrets(),
            )
            ctx = CheckContext(api, client, spec, config)
            try:
                for item in checks_for(api):
                    if item.name in config.exclude_checks:
                        continue
                    result = run_semantic_check(item, ctx)
                    say(f"{api}: {item.name} {result.status.value}")
                    report.results.append(result)
            finally:
                client.close()
    report.duration = time.monotonic() - started
    return report
