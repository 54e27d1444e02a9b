"""Progress while a run goes on: the line's content and its heartbeat (with a clock the test moves), and
the real CLI against a paced run: a line at least every few seconds during the Schemathesis phase too."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from conformance.progress import Progress
from mock_server import MockConfig, create_app
from mock_server.testing import serve_in_thread
from tests.support import MOCK_SUITE_ENV


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_status_line_says_where_how_far_and_how_long() -> None:
    lines: list[str] = []
    clock = Clock()
    progress = Progress(lines.append, requests=lambda: 42, max_rate=2.0, clock=clock)
    progress.phase("wepay: semantic checks", total=10)
    clock.now += 8
    progress.update("wepay_order", done=4, failures=1)
    line = progress.line()
    assert line.startswith("wepay: semantic checks, wepay_order: 4/10 done, 42 requests, 1 failure(s) so far, 8s")
    assert line.endswith("about 12s left in this phase")  # 4 checks in 8 s: 6 more take 12 s


def test_no_estimate_without_a_bounded_pace_or_a_known_size() -> None:
    clock = Clock()
    unbounded = Progress(lambda _: None, clock=clock)
    unbounded.phase("mifumo: semantic checks", total=10)
    unbounded.update("x", done=2)
    assert unbounded.estimate() is None
    unknown = Progress(lambda _: None, max_rate=1.0, clock=clock)
    unknown.phase("mifumo: schema checks")
    unknown.update("GET /api/billing/history/", done=3)
    assert unknown.estimate() is None and "3 done" in unknown.line()


def test_the_heartbeat_speaks_only_after_silence() -> None:
    lines: list[str] = []
    clock = Clock()
    progress = Progress(lines.append, clock=clock, every=5.0)
    progress.phase("mifumo: schema checks")
    clock.now += 4.9
    assert not progress.beat()
    clock.now += 0.2
    assert progress.beat() and lines[-1].startswith("mifumo: schema checks: 0 done")
    progress.say("mifumo: negative_data_rejection passed")
    clock.now += 3
    assert not progress.beat()


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve_in_thread(create_app(MockConfig(seed=7))) as served:
        yield served


def test_a_paced_run_says_something_at_least_every_few_seconds(url: str) -> None:
    """`--max-rate 2` and a deadline: Schemathesis' phase alone takes longer than a heartbeat, and the CLI
    (stderr not a terminal: plain lines) still says where it is at least every 5 s (6 s allowed: the
    heartbeat looks once a second)."""
    # One request at a time, so the Schemathesis phase is the one in progress for the first seconds.
    argv = [sys.executable, "-m", "conformance.cli", "--wepay-url", url, "--max-rate", "2", "--deadline", "14",
            "--concurrency", "1"]  # fmt: skip
    env = {**os.environ, **MOCK_SUITE_ENV}
    stamps: list[tuple[float, str]] = []
    with subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as process:
        assert process.stderr is not None
        for line in process.stderr:
            stamps.append((time.monotonic(), line.rstrip("\n")))
    assert process.returncode == 1  # the deadline cut the run: no verdict of conformance
    progress = [(t, line) for t, line in stamps if line.startswith("... ")]
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(progress)]
    assert progress and max(gaps) < 6.5, (gaps, stamps)
    beats = [line for _, line in progress if "requests" in line and "failure(s) so far" in line]
    assert beats and any("schema checks" in line for line in beats), stamps
