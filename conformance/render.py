"""The human-readable report: a table per API and per check, scores per operation, then each failure
with what was expected, what came back and a `curl` to reproduce it."""

from __future__ import annotations

from conformance.report import Status, SuiteReport


def _row(name: str, counts: dict[Status, int], width: int) -> str:
    return f"  {name:<{width}} {counts[Status.PASSED]:>6} {counts[Status.FAILED]:>6} {counts[Status.SKIPPED]:>7}"


def _table(title: str, table: dict[str, dict[Status, int]]) -> list[str]:
    width = max([len(title), *map(len, table)])
    lines = [f"  {title:<{width}} {'passed':>6} {'failed':>6} {'skipped':>7}"]
    lines += [_row(name, counts, width) for name, counts in sorted(table.items())]
    return lines


def render(report: SuiteReport) -> str:
    lines = ["", "Results per API", *_table("api", report.counts("api"))]
    lines += ["", "Results per check", *_table("check", report.counts("check"))]
    lines += ["", "Conformance score per operation"]
    lines += [f"  {operation:<40} {score:6.1%}" for operation, score in report.scores().items()]
    skipped = [r for r in report.results if r.status is Status.SKIPPED and r.kind == "semantic"]
    if skipped:
        lines += ["", "Skipped (the data at hand cannot decide them)"]
        lines += [f"  {r.operation} {r.check}: {r.message}" for r in skipped]
    for number, failure in enumerate(report.failures, start=1):
        lines += [
            "",
            f"FAILURE {number}: {failure.check} on {failure.operation} ({failure.kind})",
            f"  {failure.message}",
            f"  expected: {failure.expected}",
            f"  got:      {failure.got}",
            f"  reproduce: {failure.curl}",
        ]
    if report.deadline_reached:
        lines += ["", f"FAILURE {len(report.failures) + 1}: {report.deadline_message}"]
    if report.throttled:
        lines += ["", f"Waited out {report.throttled} 429 answer(s) (Retry-After), {report.throttled_seconds:.1f}s"]
    total = report.counts("api")
    passed = sum(c[Status.PASSED] for c in total.values())
    failed = sum(c[Status.FAILED] for c in total.values())
    skipped_count = sum(c[Status.SKIPPED] for c in total.values())
    verdict = "CONFORMANT" if report.passed else "NOT CONFORMANT"
    if report.deadline_reached:
        verdict += " (deadline reached, incomplete)"
    lines += [
        "",
        f"{verdict}: {passed} passed, {failed} failed, {skipped_count} skipped in {report.duration:.1f}s",
    ]
    return "\n".join(lines)
