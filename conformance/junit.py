"""JUnit XML: one testsuite per operation, one testcase per check, written with xml.etree; each testsuite
carries the run's settings as properties (version, targets, seed, TLS verification)."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

from conformance.errors import UsageError
from conformance.report import CheckResult, Status, SuiteReport


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
        failure.text = "\n\n".join(
            f"{f.message}\nexpected: {f.expected}\ngot: {f.got}\nreproduce: {f.curl}" for f in result.findings
        )
    elif result.status in (Status.SKIPPED, Status.BLOCKED):
        # JUnit has no "blocked": it is a skip whose message names the check reporting the root cause.
        ET.SubElement(case, "skipped", message=result.message, type=result.status.value)


def _properties(suite: ET.Element, report: SuiteReport) -> None:
    """JUnit has properties per testsuite only: every testsuite carries the run's, so whichever a CI
    page shows says, among others, whether certificates were verified."""
    if not report.settings:
        return
    properties = ET.SubElement(suite, "properties")
    for name, value in report.settings.items():
        ET.SubElement(properties, "property", name=name, value=value)


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
    for operation, results in sorted(by_operation.items()):
        suite = ET.SubElement(
            root,
            "testsuite",
            name=operation,
            tests=str(len(results)),
            failures=str(sum(r.status is Status.FAILED for r in results)),
            skipped=str(sum(r.status in (Status.SKIPPED, Status.BLOCKED) for r in results)),
            errors="0",
        )
        _properties(suite, report)
        for result in results:
            _testcase(suite, result)
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
