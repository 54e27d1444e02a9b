"""JUnit XML: one testsuite per operation, one testcase per check, written with xml.etree."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

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
        for result in results:
            _testcase(suite, result)
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(report: SuiteReport, path: Path | str) -> None:
    to_xml(report).write(path, encoding="utf-8", xml_declaration=True)
