"""JUnit XML: one testsuite per operation, one testcase per check, written with xml.etree; each testsuite
carries the run's settings as properties (version, targets, seed, TLS verification).

Each testcase carries the check's own time. JUnit knows passed, failure, error and skipped; a blocked
check is a `<skipped type="blocked">` whose message names the check it is blocked by (`blocked by
mifumo_page_shape: …`): CI test views show a skip with its message, and a failure there would count the
one root cause again. A run that did not end in a verdict — a usage error (exit 2) or an interruption
(exit 130) — adds a `run` testsuite with one `<error>` testcase (`run/error`, `run/interrupted`) saying
why; a run cut by `--deadline` adds a failing `run/deadline`.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from conformance.errors import UsageError
from conformance.report import CheckResult, RunState, Status, SuiteReport


def _failure_text(result: CheckResult) -> str:
    text = "\n\n".join(
        f"{f.message}\nexpected: {f.expected}\ngot: {f.got}\nreproduce: {f.curl}" for f in result.findings
    )
    if result.omitted:
        text += f"\n\n… and {result.omitted} more distinct failure(s) of this check, not listed"
    return text


def _testcase(suite: ET.Element, result: CheckResult) -> None:
    case = ET.SubElement(
        suite,
        "testcase",
        name=result.check,
        classname=f"{result.api}.{result.operation}",
        time=f"{result.duration:.3f}",
    )
    if result.status is Status.FAILED:
        failure = ET.SubElement(case, "failure", message=result.message, type=result.kind)
        failure.text = _failure_text(result)
    elif result.status in (Status.SKIPPED, Status.BLOCKED):
        ET.SubElement(case, "skipped", message=result.message, type=result.status.value)


def _properties(suite: ET.Element, report: SuiteReport) -> None:
    """JUnit has properties per testsuite only: every testsuite carries the run's, so whichever a CI
    page shows says, among others, whether certificates were verified."""
    if not report.settings:
        return
    properties = ET.SubElement(suite, "properties")
    for name, value in report.settings.items():
        ET.SubElement(properties, "property", name=name, value=value)


def _run_case(report: SuiteReport) -> tuple[str, str, str] | None:
    """(testcase name, element, message) for a run that ended without a complete verdict, else None."""
    if report.state is RunState.ERROR:
        return "error", "error", report.error
    if report.state is RunState.INTERRUPTED:
        return "interrupted", "error", report.reason
    if report.deadline_reached:
        return "deadline", "failure", report.deadline_message
    return None


def _add_run_suite(root: ET.Element, report: SuiteReport, timestamp: str) -> None:
    """The run itself did not finish: one testcase says why, so CI cannot read the file as green."""
    found = _run_case(report)
    if found is None:
        return
    name, element, message = found
    suite = ET.SubElement(
        root,
        "testsuite",
        name="run",
        tests="1",
        failures=str(int(element == "failure")),
        errors=str(int(element == "error")),
        skipped="0",
        timestamp=timestamp,
        time=f"{report.duration:.3f}",
    )
    case = ET.SubElement(suite, "testcase", name=name, classname="run", time=f"{report.duration:.3f}")
    ET.SubElement(case, element, message=message, type=name).text = message


def to_xml(report: SuiteReport) -> ET.ElementTree:
    by_operation: dict[str, list[CheckResult]] = defaultdict(list)
    for result in report.results:
        by_operation[result.operation].append(result)
    root = ET.Element(
        "testsuites",
        name="billing-conformance",
        tests=str(len(report.results)),
        failures=str(len(report.failures)),
        time=f"{report.duration:.3f}",
    )
    if report.deadline_reached:
        # The run itself failed to finish: one failing testcase says so, so CI cannot read it as green.
        suite = ET.SubElement(root, "testsuite", name="run", tests="1", failures="1", skipped="0", errors="0")
        _properties(suite, report)
        case = ET.SubElement(suite, "testcase", name="deadline", classname="run", time=f"{report.duration:.3f}")
        ET.SubElement(case, "failure", message=report.deadline_message, type="deadline")
        root.set("failures", str(len(report.failures) + 1))
        root.set("tests", str(len(report.results) + 1))
    timestamp = datetime.fromtimestamp(report.started_at, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    root = ET.Element("testsuites", name="billing-conformance", timestamp=timestamp, time=f"{report.duration:.3f}")
    _add_run_suite(root, report, timestamp)
    for operation, results in sorted(by_operation.items()):
        suite = ET.SubElement(
            root,
            "testsuite",
            name=operation,
            tests=str(len(results)),
            failures=str(sum(r.status is Status.FAILED for r in results)),
            errors="0",
            skipped=str(sum(r.status in (Status.SKIPPED, Status.BLOCKED) for r in results)),
            timestamp=timestamp,
            time=f"{sum(r.duration for r in results):.3f}",
        )
        _properties(suite, report)
        for result in results:
            _testcase(suite, result)
    for total in ("tests", "failures", "errors", "skipped"):
        root.set(total, str(sum(int(suite.get(total, "0")) for suite in root)))
    ET.indent(root)
    return ET.ElementTree(root)


def prepare_report_path(path: Path | str, flag: str = "--junit-xml") -> Path:
    """Make the report's folder now, before the run, or refuse in one line: a path that cannot be
    written would otherwise be found out after the whole run, with a traceback instead of the report."""
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"{flag} {target}: is a folder; give a file name")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{flag} {target}: cannot make its folder {target.parent}: {exc.strerror or exc}") from None
    writable = target if target.exists() else target.parent
    if not os.access(writable, os.W_OK):
        raise UsageError(f"{flag} {target}: cannot write there: permission denied")
    return target


def write_junit(report: SuiteReport, path: Path | str) -> None:
    to_xml(report).write(path, encoding="utf-8", xml_declaration=True)
