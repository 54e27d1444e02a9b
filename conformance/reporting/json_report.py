"""`--report-json FILE`: the run as JSON, for tools (dashboards, trend lines, a bot commenting on a pull
request). Its shape is `report.schema.json` beside this module (JSON Schema 2020-12, shipped in the
package); `FORMAT_VERSION` changes when a field is removed or changes meaning, not when one is added."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conformance.recorded import RecordedExchange
from conformance.render import verdict_of
from conformance.report import CheckResult, Finding, Status, SuiteReport
from conformance.reporting.run_info import RunInfo

FORMAT = "billing-conformance-report"
FORMAT_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("report.schema.json")


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _counts(results: list[CheckResult]) -> dict[str, int]:
    counts = {status.value: sum(r.status is status for r in results) for status in Status}
    counts["findings"] = sum(len(r.findings) + r.omitted for r in results)
    return counts


def exchange_json(exchange: RecordedExchange | None) -> dict[str, Any] | None:
    if exchange is None:
        return None
    sent, answer = exchange.request, exchange.response
    request = {"method": sent.method, "url": sent.url, "headers": [list(h) for h in sent.headers], "body": sent.body}
    response = (
        None
        if answer is None
        else {"status": answer.status, "headers": [list(h) for h in answer.headers], "body": answer.body}
    )
    return {"request": request, "response": response}


def _finding(finding: Finding) -> dict[str, Any]:
    return {
        "message": finding.message,
        "expected": finding.expected,
        "got": finding.got,
        "repro": finding.curl or None,
        "exchange": exchange_json(finding.exchange),
    }


def _check(result: CheckResult) -> dict[str, Any]:
    return {
        "check": result.check,
        "kind": result.kind,
        "state": result.status.value,
        "duration": round(result.duration, 6),
        "message": result.message,
        "blocked_by": result.blocked_by or None,
        "cut_short": result.cut_short,
        "findings": [_finding(f) for f in result.findings],
        "findings_omitted": result.omitted,
    }


def _operations(report: SuiteReport) -> list[dict[str, Any]]:
    grouped: dict[tuple[str, str], list[CheckResult]] = defaultdict(list)
    for result in report.results:
        grouped[(result.api, result.operation)].append(result)
    scores = report.scores()
    return [
        {
            "api": api,
            "operation": operation,
            "score": scores.get(operation),
            "counts": _counts(results),
            "checks": [_check(r) for r in results],
        }
        for (api, operation), results in sorted(grouped.items())
    ]


def _run(report: SuiteReport, info: RunInfo) -> dict[str, Any]:
    return {
        "state": report.state.value,
        "exit_code": report.exit_code,
        "verdict": verdict_of(report),
        "reason": report.reason or None,
        "started_at": iso(report.started_at),
        "duration": round(report.duration, 3),
        "targets": info.targets,
        "seed": info.seed,
        "versions": info.versions,
        "settings": info.settings,
        "deadline_reached": report.deadline_reached,
        "throttled": {"count": report.throttled, "seconds": round(report.throttled_seconds, 3)},
        "counts": _counts(report.results),
    }


def to_json(report: SuiteReport, info: RunInfo) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "run": _run(report, info),
        "operations": _operations(report),
    }


def write_json(report: SuiteReport, info: RunInfo, path: Path | str) -> None:
    text = json.dumps(to_json(report, info), indent=2, ensure_ascii=False)
    Path(path).write_text(text + "\n", encoding="utf-8")
