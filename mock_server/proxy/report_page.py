"""`billing-mock proxy --report-html FILE`: the violations as the suite's HTML page (the one renderer,
`billing_contract.report_page`): a row per operation and rule checked, failed with each violation (when,
which side, the request and the status), passed when none was seen. The proxy keeps no bodies, so a
violation shows its request line and status, and the message says what broke."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from billing_contract.report_page import Finding, HttpMessage, Page, Row, render_page
from mock_server.proxy.config import ProxyConfig
from mock_server.proxy.violations import Violation, ViolationLog

# Violations listed per operation and rule; the rest are counted ("and N more").
MAX_LISTED = 20


def _finding(violation: Violation) -> Finding:
    target = violation.path + (f"?{violation.query}" if violation.query else "")
    status = f"HTTP {violation.status}" if violation.status else ""
    return Finding(
        message=violation.message,
        got=status,
        request=HttpMessage(f"{violation.method} {target}"),
        response=HttpMessage(status) if status else None,
        notes=(("when", violation.time), ("side", violation.side)),
    )


def _rows(log: ViolationLog) -> tuple[Row, ...]:
    found: dict[tuple[str, str], list[Violation]] = defaultdict(list)
    for violation in log.violations:
        found[(violation.operation or "unmatched", violation.rule)].append(violation)
    rows = []
    for operation, rule in sorted(set(log.checked) | set(found)):
        violations = found.get((operation, rule), [])
        rows.append(
            Row(
                group=operation,
                name=rule,
                state="failed" if violations else "passed",
                note="" if violations else "no violation in the traffic seen",
                findings=tuple(_finding(v) for v in violations[:MAX_LISTED]),
                omitted=max(0, len(violations) - MAX_LISTED),
            )
        )
    return tuple(rows)


def _version() -> str:
    try:
        return metadata.version("billing-contract")
    except metadata.PackageNotFoundError:
        return "unknown"


def to_page(log: ViolationLog, config: ProxyConfig) -> Page:
    count = len(log.violations)
    upstreams = tuple((f"{api} upstream", url) for api, url in sorted(config.upstreams.items()))
    facts = (
        *upstreams,
        ("strict", "yes (violating answers became 502)" if config.strict else "no"),
        ("violations", str(count)),
        ("written", datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")),
        ("versions", f"billing-mock {_version()}"),
    )
    return Page(
        title="billing-mock proxy",
        verdict=f"{count} CONTRACT VIOLATION(S)" if count else "NO CONTRACT VIOLATION",
        state="failed" if count else "passed",
        facts=facts,
        rows=_rows(log),
    )


def write_page(log: ViolationLog, config: ProxyConfig, path: Path) -> None:
    path.write_text(render_page(to_page(log, config)), encoding="utf-8")
