"""The human-readable report: a table per API and per check, scores per operation, then each failure
with what was expected, what came back and a `curl` to reproduce it."""

from __future__ import annotations

from conformance.report import RunState, Status, SuiteReport

COLUMNS = (Status.PASSED, Status.FAILED, Status.BLOCKED, Status.SKIPPED)


def _table(title: str, table: dict[str, dict[Status, int]]) -> list[str]:
    width = max([len(title), *map(len, table)])
    lines = [f"  {title:<{width}} " + " ".join(f"{status.value:>7}" for status in COLUMNS)]
    for name, counts in sorted(table.items()):
        lines.append(f"  {name:<{width}} " + " ".join(f"{counts[status]:>7}" for status in COLUMNS))
    return lines


def score_line(passed: int, failed: int, blocked: int, skipped: int) -> str:
    """How a score was made, in words (the terminal, the HTML page): blocked counts against, skipped not."""
    decided = passed + failed + blocked
    return (
        f"{passed} of {decided} checks passed; {failed} failed, {blocked} blocked (counted against); "
        f"{skipped} skipped (left out)"
    )


def _scores(report: SuiteReport) -> list[str]:
    """passed / (passed + failed + blocked) per operation; n/a where nothing was decided or the run did
    not finish the operation."""
    lines = []
    counts = report.counts("operation")
    for operation, score in report.scores().items():
        c = counts[operation]
        shown = f"{score:6.1%}" if score is not None else "   n/a"
        detail = score_line(c[Status.PASSED], c[Status.FAILED], c[Status.BLOCKED], c[Status.SKIPPED])
        lines.append(f"  {operation:<32} {shown}  ({detail})")
    return lines


def _indented(text: str, width: int) -> str:
    """Continuation lines of a multi-line message (Schemathesis' own) under its first line."""
    return text.strip().replace("\n", "\n" + " " * width)


def verdict_of(report: SuiteReport) -> str:
    """The run's verdict in words, as every report heads it."""
    match report.state:
        case RunState.PASSED:
            return "CONFORMANT"
        case RunState.ERROR:
            return "NO VERDICT (usage error)"
        case RunState.INTERRUPTED:
            return "NO VERDICT (interrupted)"
    return "NOT CONFORMANT (deadline reached, incomplete)" if report.deadline_reached else "NOT CONFORMANT"


def render(report: SuiteReport) -> str:
    lines = ["", "Results per API", *_table("api", report.counts("api"))]
    lines += ["", "Results per check", *_table("check", report.counts("check"))]
    lines += ["", "Conformance score per operation", *_scores(report)]
    blocked = [r for r in report.results if r.status is Status.BLOCKED]
    if blocked:
        lines += ["", "Blocked (a rule they depend on is reported broken by another check)"]
        lines += [f"  {r.operation} {r.check}: {r.message}" for r in blocked]
    skipped = [r for r in report.results if r.status is Status.SKIPPED]
    if skipped:
        lines += ["", "Skipped (not decided: the data at hand cannot decide them, or nothing was exercised)"]
        lines += [f"  {r.operation} {r.check}: {r.message}" for r in skipped]
    number = 0
    for failure in report.failures:
        for finding in failure.findings:
            number += 1
            lines += [
                "",
                f"FAILURE {number}: {failure.check} on {failure.operation} ({failure.kind})",
                f"  {_indented(finding.message, 2)}",
                f"  expected: {_indented(finding.expected, 12)}",
                f"  got:      {_indented(finding.got, 12)}",
                f"  reproduce: {finding.curl}",
            ]
        if failure.omitted:
            lines += ["", f"  … and {failure.omitted} more distinct failure(s) of {failure.check} (not listed)"]
    if report.deadline_reached:
        lines += ["", f"FAILURE {number + 1}: {report.deadline_message}"]
    if report.throttled:
        lines += ["", f"Waited out {report.throttled} 429 answer(s) (Retry-After), {report.throttled_seconds:.1f}s"]
    if report.tls_warning:
        lines += ["", f"WARNING: {report.tls_warning}"]
    total = {status: sum(c[status] for c in report.counts("api").values()) for status in Status}
    verdict = verdict_of(report)
    summary = ", ".join(f"{total[status]} {status.value}" for status in COLUMNS)
    lines += ["", f"{verdict}: {summary} in {report.duration:.1f}s, {report.requests} requests"]
    return "\n".join(lines)
