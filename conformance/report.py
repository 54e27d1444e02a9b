"""Results of a run: one `CheckResult` per check per operation, and their summaries."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"  # the data at hand cannot decide it, nothing was exercised, or not run
    BLOCKED = "blocked"  # depends on a rule another check reports broken; neither passed nor failed


@dataclass(frozen=True)
class Finding:
    """One distinct failure: what was expected, what came back, and a curl command to reproduce it."""

    message: str
    expected: str = ""
    got: str = ""
    curl: str = ""


@dataclass(frozen=True)
class CheckResult:
    api: str
    operation: str
    check: str
    status: Status
    # "schema" for Schemathesis checks, "semantic" for this suite's own.
    kind: str = "semantic"
    message: str = ""
    expected: str = ""
    got: str = ""
    curl: str = ""
    duration: float = 0.0
    # Not run because the run's deadline was reached (skipped, and the run fails).
    cut_by_deadline: bool = False
    # The check reporting the root cause, when BLOCKED.
    blocked_by: str = ""
    # Further distinct failures of the same check, after the first (message, expected, got, curl above).
    more: tuple[Finding, ...] = ()
    # The distinct requests this verdict rests on, those it shares with other checks included (a walk
    # several checks read counts for each of them; `SuiteReport.requests` counts each request once).
    # For a Schemathesis check: the requests of its operation's cases, which its other checks share.
    requests: int = 0

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Every distinct failure of a failed check, the first one included."""
        if self.status is not Status.FAILED:
            return ()
        return (Finding(self.message, self.expected, self.got, self.curl), *self.more)


@dataclass
class SuiteReport:
    results: list[CheckResult] = field(default_factory=list)
    duration: float = 0.0
    # A fingerprint per (operation, check) of the cases Schemathesis generated, to prove runs repeat.
    case_fingerprints: dict[str, str] = field(default_factory=dict)
    # The --deadline ran out: what was left is reported skipped (never passed) and the run cannot pass.
    deadline_reached: bool = False
    deadline: float | None = None
    # 429 answers waited out (Retry-After), and the seconds some request was held back by one.
    throttled: int = 0
    throttled_seconds: float = 0.0
    # Every HTTP request the run sent (the preflight's and 429 retries included), and per API.
    requests: int = 0
    requests_by_api: dict[str, int] = field(default_factory=dict)
    # False under --insecure: no target's certificate was verified, and every report says so.
    tls_verified: bool = True
    # What the run was given (version, targets, seed, TLS), for the reports; never a secret.
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.status is Status.FAILED]

    @property
    def passed(self) -> bool:
        return not self.failures and not self.deadline_reached

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    @property
    def tls_warning(self) -> str:
        """The line every report carries when certificates were not verified, else ''."""
        if self.tls_verified:
            return ""
        return "TLS certificate verification was OFF (--insecure): the targets' identity was not checked"

    @property
    def deadline_message(self) -> str:
        """The run-level finding when the deadline ran out, else ''."""
        if not self.deadline_reached:
            return ""
        budget = f" (--deadline {self.deadline:g}s)" if self.deadline else ""
        return f"deadline reached{budget}: the run is incomplete; checks not run are reported skipped, not passed"

    def result(self, operation: str, check: str) -> CheckResult:
        return next(r for r in self.results if r.operation == operation and r.check == check)

    def failed_checks(self) -> set[str]:
        return {r.check for r in self.failures}

    def verdict(self) -> list[tuple[str, str, str]]:
        """The comparable outcome of a run: (operation, check, status), sorted."""
        return sorted((r.operation, r.check, r.status.value) for r in self.results)

    def counts(self, key: str) -> dict[str, dict[Status, int]]:
        """Passed/failed/skipped/blocked counts grouped by `api`, `operation` or `check`."""
        table: dict[str, dict[Status, int]] = defaultdict(lambda: dict.fromkeys(Status, 0))
        for r in self.results:
            table[getattr(r, key)][r.status] += 1
        return dict(table)

    def scores(self) -> dict[str, float | None]:
        """Per operation: the share of the checks that ran (passed or failed) that passed; None when no
        check ran. Blocked and skipped checks decided nothing and are counted apart (`counts`)."""
        scores: dict[str, float | None] = {}
        for operation, counts in sorted(self.counts("operation").items()):
            ran = counts[Status.PASSED] + counts[Status.FAILED]
            scores[operation] = counts[Status.PASSED] / ran if ran else None
        return scores
