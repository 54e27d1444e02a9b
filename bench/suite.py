"""The conformance suite's time to verdict and requests sent, today's sequential run beside --concurrency
1, 4 and 8, in one run, against the mock: on loopback, with `--latency 150-250` (a staging backend's
answer times) and with `--rate-limit` (WePay's 30 requests per operation and App-Id per 10 s).

"today" is the suite before requests went in flight together: the code of `--baseline REF` (default: the
commit this branch started from, `git merge-base HEAD main`), unpacked with `git archive` into a temporary
folder and run from there with its own defaults (one request at a time). The other rows are this
checkout's suite with `--concurrency N` and its defaults otherwise.

Every run is `python -m conformance.cli --mifumo-url URL --wepay-url URL --quiet --deadline S` in a
process of its own, as CI runs it, timed from exec to exit, with the CPU time that process used (on
loopback the run is CPU-bound, and its CPU time moves far less than its wall time with the machine's
other load). The mock runs in this process (a thread), a
fresh one per run (the latency draws and the throttle's window start the same every time); it counts
what it received (its request log) and, under --rate-limit, the requests its throttle let through per
operation: the least time the limit allows for n of them on one operation is (ceil(n / 30) - 1) * 10 s,
the busiest operation's is the run's.

    python bench/suite.py [--quick] [--rounds N] [--slow-rounds N] [--baseline REF] [--concurrency 1,4,8]
                          [--only loopback,latency,rate-limit] [--deadline S]

Bounded: each run gets --deadline (default 300 s; the suite stops itself there) and is killed 60 s later.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import _harness as h
import httpx

from mock_server import MockConfig
from mock_server.controls import ControlSettings
from mock_server.pipeline import throttle
from mock_server.testing import running_mock

SCENARIOS = {
    "loopback": ControlSettings(),
    "latency": ControlSettings(latency_ms=(150, 250)),
    "rate-limit": ControlSettings(rate_limit=True),
}
LIMIT, WINDOW_S = 30, 10.0  # the spec's x-rate-limit, as the mock applies it
TODAY = "today"


@dataclass
class Outcome:
    seconds: float
    cpu: float  # the suite's process, user + system: what the wall time is made of on loopback
    exit: str
    requests: int
    throttled: int  # 429 answers the mock sent
    waited_s: float | None  # what the suite says it waited out
    least_s: float | None  # the least time the rate limit allows for what was sent


# -- the mock's side ------------------------------------------------------------------------------------------


class ThrottleCount:
    """Counts, per operation and App-Id, the requests the mock's throttle let through (the ones its limit counts)."""

    def __init__(self) -> None:
        self.passed: Counter[tuple[str, str]] = Counter()
        self._original = throttle.Throttle.retry_after

    @contextlib.contextmanager
    def installed(self) -> Iterator[ThrottleCount]:
        original, passed = self._original, self.passed

        def retry_after(self: throttle.Throttle, operation: str, account: str, now: float | None = None) -> int | None:
            wait = original(self, operation, account, now)
            if wait is None:
                passed[(operation, account)] += 1
            return wait

        throttle.Throttle.retry_after = retry_after  # type: ignore[method-assign]
        try:
            yield self
        finally:
            throttle.Throttle.retry_after = original  # type: ignore[method-assign]

    def least_seconds(self) -> float:
        busiest = max(self.passed.values(), default=0)
        return max(0, math.ceil(busiest / LIMIT) - 1) * WINDOW_S


# -- the suite's side -----------------------------------------------------------------------------------------


def baseline_tree(ref: str, folder: Path) -> Path | None:
    """`ref`'s code unpacked into `folder` (no git worktree is made), or None when git cannot give it."""
    try:
        archive = subprocess.run(["git", "archive", ref], cwd=h.ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"note: no baseline ({ref}): {exc}", file=sys.stderr)
        return None
    with tempfile.TemporaryFile() as raw:
        raw.write(archive)
        raw.seek(0)
        with tarfile.open(fileobj=raw) as tar:
            tar.extractall(folder, filter="data")
    return folder


def default_baseline() -> str:
    done = subprocess.run(["git", "merge-base", "HEAD", "main"], cwd=h.ROOT, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else "HEAD~1"


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def run_suite(code: Path, url: str, extra: list[str], deadline: float) -> tuple[float, float, str, str]:
    """One run of the suite in `code` against `url`: seconds from exec to exit, its CPU seconds, exit code,
    its stdout."""
    argv = [sys.executable, "-m", "conformance.cli", "--mifumo-url", url, "--wepay-url", url, "--quiet"]
    env = {**os.environ, **h.suite_credentials(), "PYTHONPATH": str(code)}
    env = {k: v for k, v in env.items() if not k.startswith("BILLING_") or k in h.suite_credentials()}
    started, cpu = time.monotonic(), _children_cpu()
    try:
        done = subprocess.run(
            [*argv, "--deadline", f"{deadline:g}", *extra],
            cwd=code,  # -m puts the working folder first on sys.path: this code, not the installed one
            env=env,
            capture_output=True,
            text=True,
            timeout=deadline + 60,
        )
    except subprocess.TimeoutExpired:
        return time.monotonic() - started, _children_cpu() - cpu, "killed", ""
    return time.monotonic() - started, _children_cpu() - cpu, str(done.returncode), done.stdout


def measure(controls: ControlSettings, code: Path, extra: list[str], deadline: float) -> Outcome:
    """One run against a fresh mock with `controls`."""
    counted = ThrottleCount()
    with counted.installed(), running_mock(MockConfig(controls=controls)) as mock:
        seconds, cpu, code_, out = run_suite(code, mock.url, extra, deadline)
        log = httpx.get(f"{mock.url}/__mock/requests", timeout=30).json()["requests"]
    contract = [entry for entry in log if not entry["path"].startswith("/__mock")]
    waited = re.search(r"Waited out \d+ 429 answer\(s\) \(Retry-After\), ([\d.]+)s", out)
    return Outcome(
        seconds,
        cpu,
        code_,
        len(contract),
        sum(1 for entry in contract if entry["status"] == 429),
        float(waited[1]) if waited else (0.0 if code_ in ("0", "1") else None),
        counted.least_seconds() if controls.rate_limit else None,
    )


# -- the table ------------------------------------------------------------------------------------------------


def median_outcome(runs: list[Outcome]) -> Outcome:
    middle = sorted(runs, key=lambda o: o.seconds)[len(runs) // 2]
    return Outcome(
        h.median([o.seconds for o in runs]),
        h.median([o.cpu for o in runs]),
        ",".join(sorted({o.exit for o in runs})),
        middle.requests,
        middle.throttled,
        middle.waited_s,
        middle.least_s,
    )


def rows_for(scenario: str, outcomes: dict[str, Outcome]) -> list[list[object]]:
    today = outcomes.get(TODAY)
    rows = []
    for name, o in outcomes.items():
        row: list[object] = [scenario, name, o.seconds, h.ratio(o.seconds, today.seconds) if today else "n/a"]
        row += [o.cpu, h.ratio(o.cpu, today.cpu) if today else "n/a", o.requests, o.throttled, o.waited_s, o.exit]
        if o.least_s is not None:
            row += [o.least_s, f"{o.seconds / o.least_s:.2f}x" if o.least_s else "n/a"]
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="suite.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round everywhere")
    parser.add_argument("--rounds", type=int, default=3, help="rounds on loopback (median; default 3)")
    parser.add_argument("--slow-rounds", type=int, default=1, help="rounds with latency or rate limit (default 1)")
    parser.add_argument("--baseline", default=None, help="the code measured as today (default: merge-base with main)")
    parser.add_argument("--concurrency", default="1,4,8", help="the N to measure (default 1,4,8)")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="scenarios: " + ", ".join(SCENARIOS))
    parser.add_argument("--deadline", type=float, default=300.0, help="per run, passed to the suite (default 300)")
    args = parser.parse_args(argv)
    levels = [int(n) for n in args.concurrency.split(",") if n.strip()]
    ref = args.baseline or default_baseline()
    print(f"# The suite's time to verdict — {h.machine()}; {h.revision()}; today = {ref[:12]}")
    with tempfile.TemporaryDirectory(prefix="bench-suite-baseline-") as folder:
        today = baseline_tree(ref, Path(folder))
        variants: dict[str, tuple[Path, list[str]]] = {TODAY: (today, [])} if today else {}
        variants |= {f"N={n}": (h.ROOT, ["--concurrency", str(n)]) for n in levels}
        for scenario in [s.strip() for s in args.only.split(",") if s.strip()]:
            controls = SCENARIOS[scenario]
            rounds = 1 if args.quick else (args.rounds if scenario == "loopback" else args.slow_rounds)
            runs: dict[str, list[Outcome]] = {name: [] for name in variants}
            for _ in range(rounds):  # interleaved: the machine's load weighs on every variant alike
                for name, (code, extra) in variants.items():
                    print(f"  {scenario}: {name} ...", file=sys.stderr, flush=True)
                    runs[name].append(measure(controls, code, extra, args.deadline))
            outcomes = {name: median_outcome(found) for name, found in runs.items()}
            headers = ["scenario", "run", "time to verdict s", "vs today", "suite CPU s", "vs today", "requests"]
            headers += ["429s", "waited out s", "exit"]
            if controls.rate_limit:
                headers += ["least time the limit allows s", "time / least"]
            title = f"{scenario} ({rounds} round(s), median)"
            print(h.table(title, headers, rows_for(scenario, outcomes)), flush=True)


if __name__ == "__main__":
    main()
