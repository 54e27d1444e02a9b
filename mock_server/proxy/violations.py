"""Contract violations seen in proxied traffic: each one counted, logged in one line, listed as JSON
(`GET /__mock/violations`), and written at shutdown as a JSON report and a JUnit file (one test case
per operation and rule, so a CI job shows which rule broke where)."""

from __future__ import annotations

import json
import logging
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

logger = logging.getLogger("billing_mock.proxy")

Side = Literal["request", "response"]


@dataclass(frozen=True)
class Violation:
    time: str
    method: str
    path: str
    query: str
    status: int | None
    side: Side
    operation: str | None
    rule: str
    message: str

    def line(self) -> str:
        target = self.path + (f"?{self.query}" if self.query else "")
        return f"contract violation ({self.side}, {self.rule}): {self.method} {target} -> {self.status}: {self.message}"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ViolationLog:
    """Every violation, and which (operation, rule) pairs were checked at all, for the JUnit report."""

    def __init__(self) -> None:
        self.violations: list[Violation] = []
        self.checked: set[tuple[str, str]] = set()
        self._noted: set[tuple[str, tuple[str, ...]]] = set()

    def checked_rules(self, operation: str, rules: tuple[str, ...]) -> None:
        """An operation's exchanges are checked on one of a few rule sets (all; the request's alone when the
        upstream gave no answer): each set noted once."""
        if (operation, rules) not in self._noted:
            self._noted.add((operation, rules))
            self.checked.update((operation, rule) for rule in rules)

    def add(self, violation: Violation) -> None:
        self.violations.append(violation)
        if violation.operation:
            self.checked.add((violation.operation, violation.rule))
        logger.warning(violation.line())

    def as_json(self) -> list[dict[str, Any]]:
        return [asdict(v) for v in self.violations]

    def write_report(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_json(), indent=2) + "\n", encoding="utf-8")

    def write_junit(self, path: Path) -> None:
        by_case: dict[tuple[str, str], list[Violation]] = {key: [] for key in self.checked}
        for violation in self.violations:
            key = (violation.operation or "unmatched", violation.rule)
            by_case.setdefault(key, []).append(violation)
        suite = ET.Element(
            "testsuite",
            name="billing-mock proxy",
            tests=str(len(by_case)),
            failures=str(sum(1 for found in by_case.values() if found)),
            errors="0",
            skipped="0",
        )
        for (operation, rule), found in sorted(by_case.items()):
            case = ET.SubElement(suite, "testcase", classname=f"proxy.{operation}", name=rule)
            if found:
                failure = ET.SubElement(case, "failure", message=f"{len(found)} violation(s): {found[0].message}")
                failure.text = "\n".join(v.line() for v in found[:50])
        root = ET.Element("testsuites", name="billing-mock proxy")
        root.append(suite)
        ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
