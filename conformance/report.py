"""Results of a run: one `CheckResult` per check per operation, and their summaries; how the run ended
(`RunState`: a verdict, a usage error or an interruption), which every report writes."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum

from conformance.recorded import RecordedExchange


class RunState(StrEnum):
    PASSED = "passed"  # conformant (exit 0)
    FAILED = "failed"  # a check failed, or the deadline left checks unrun (exit 1)
    ERROR = "error"  # a usage error: bad flags, credentials refused, target unreachable (exit 2)
    INTERRUPTED = "interrupted"  # stopped from outside, SIGINT or SIGTERM: no verdict (exit 130)


EXIT_CODES = {RunState.PASSED: 0, RunState.FAILED: 1, RunState.ERROR: 2, RunState.INTERRUPTED: 130}
# Distinct findings kept per check (each Schemathesis input that fails is one); the rest are counted.
MAX_FINDINGS = 20


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
    # What was sent and what came back, secrets masked (None when the check recorded none).
    exchange: RecordedExchange | None = None


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
    # The first failure's exchange.
    exchange: RecordedExchange | None = None
    # Distinct failures found beyond the MAX_FINDINGS kept ("and N more").
    omitted: int = 0
    # Not run, or not decided, because the run was stopped from outside (skipped; the run has no verdict).
    interrupted: bool = False
    # The distinct requests this verdict rests on, those it shares with other checks included (a walk
    # several checks read counts for each of them; `SuiteReport.requests` counts each request once).
    # For a Schemathesis check: the requests of its operation's cases, which its other checks share.
    requests: int = 0

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Every distinct failure of a failed check, the first one included."""
        if self.status is not Status.FAILED:
            return ()
        return (Finding(self.message, self.expected, self.got, self.curl, self.exchange), *self.more)

    @property
    def cut_short(self) -> bool:
        """Left undecided by the deadline or an interruption: the run did not finish it."""
        return self.cut_by_deadline or self.interrupted


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
    # When the run started (seconds since the epoch).
    started_at: float = field(default_factory=time.time)
    # Why the run could not be made (a usage error, exit 2); '' when it could.
    error: str = ""
    # What stopped the run from outside (`SIGINT`, `SIGTERM`; exit 130); '' when nothing did.
    interrupted: str = ""

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.status is Status.FAILED]

    @property
    def state(self) -> RunState:
        if self.error:
            return RunState.ERROR
        if self.interrupted:
            return RunState.INTERRUPTED
        return RunState.FAILED if self.failures or self.deadline_reached else RunState.PASSED

    @property
    def passed(self) -> bool:
        return self.state is RunState.PASSED

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.state]

    @property
    def reason(self) -> str:
        """Why the run has no verdict, or what made it incomplete, in one line ('' for a finished run)."""
        if self.error:
            return self.error
        if self.interrupted:
            return f"interrupted ({self.interrupted}): the run is incomplete (no verdict)"
        return self.deadline_message

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
        """Per operation: passed / (passed + failed + blocked). A blocked check counts against: the rule it
        checks could not be shown to hold because the target broke one it depends on (a page body of the
        wrong shape scores low, not high). Skipped checks decided nothing and are left out. None when
        nothing was decided, or when the run did not finish the operation (interrupted, or checks cut by
        the deadline): a partial score would flatter."""
        cut = {r.operation for r in self.results if r.cut_short}
        scores: dict[str, float | None] = {}
        for operation, counts in sorted(self.counts("operation").items()):
            decided = counts[Status.PASSED] + counts[Status.FAILED] + counts[Status.BLOCKED]
            complete = operation not in cut and not self.interrupted
            scores[operation] = counts[Status.PASSED] / decided if decided and complete else None
        return scores
