"""`--report-html FILE`: the run as one self-contained page (`billing_contract.report_page`, which the
validating proxy's page shares): the verdict, target, seed, versions and duration; every operation and
check with its state and time; each failure with expected and got, the exchange and the repro."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from billing_contract.report_page import Finding as PageFinding
from billing_contract.report_page import HttpMessage, Page, Row, render_page
from conformance.recorded import RecordedExchange
from conformance.render import score_line, verdict_of
from conformance.report import CheckResult, Finding, Status, SuiteReport
from conformance.reporting.json_report import iso
from conformance.reporting.run_info import RunInfo


def _messages(exchange: RecordedExchange | None) -> tuple[HttpMessage | None, HttpMessage | None]:
    if exchange is None:
        return None, None
    sent, answer = exchange.request, exchange.response
    request = HttpMessage(f"{sent.method} {sent.url}", sent.headers, sent.body)
    response = None if answer is None else HttpMessage(f"HTTP {answer.status}", answer.headers, answer.body)
    return request, response


def _finding(finding: Finding) -> PageFinding:
    request, response = _messages(finding.exchange)
    return PageFinding(finding.message, finding.expected, finding.got, finding.curl, request, response)


def _row(result: CheckResult) -> Row:
    note = "" if result.status is Status.FAILED else result.message
    return Row(
        group=result.operation,
        name=result.check,
        state=result.status.value,
        kind=result.kind,
        duration=result.duration,
        note=note,
        findings=tuple(_finding(f) for f in result.findings),
        omitted=result.omitted,
    )


def _setting(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def _facts(report: SuiteReport, info: RunInfo) -> tuple[tuple[str, str], ...]:
    targets = [(f"{api} target", url) for api, url in info.targets.items() if url]
    shown = {name: value for name, value in info.settings.items() if value not in (None, [], "")}
    settings = ", ".join(f"{name.replace('_', '-')} {_setting(value)}" for name, value in shown.items())
    versions = ", ".join(f"{name} {version}" for name, version in info.versions.items())
    counts = ", ".join(f"{sum(r.status is s for r in report.results)} {s.value}" for s in Status)
    return (
        *targets,
        ("seed", "" if info.seed is None else str(info.seed)),
        ("started", iso(report.started_at)),
        ("duration", f"{report.duration:.1f} s"),
        ("exit code", str(report.exit_code)),
        ("checks", counts),
        ("settings", settings),
        ("versions", versions),
    )


def _scores(report: SuiteReport) -> dict[str, str]:
    notes = {}
    counts = report.counts("operation")
    for operation, score in report.scores().items():
        c = counts[operation]
        shown = f"score {score:.1%}" if score is not None else "score n/a"
        notes[operation] = f"{shown}: " + score_line(
            c[Status.PASSED], c[Status.FAILED], c[Status.BLOCKED], c[Status.SKIPPED]
        )
    return notes


def to_page(report: SuiteReport, info: RunInfo) -> Page:
    reason = report.reason
    return Page(
        title="billing-conformance",
        verdict=verdict_of(report),
        state=report.state.value,
        facts=_facts(report, info),
        rows=tuple(_row(r) for r in report.results),
        reason=reason,
        group_notes=_scores(report),
    )


def write_html(report: SuiteReport, info: RunInfo, path: Path | str) -> None:
    Path(path).write_text(render_page(to_page(report, info)), encoding="utf-8")
