"""What a run shows while it goes on: a line at least every few seconds, so a CI log (or a person at a
terminal) sees which phase and operation the run is in, how far it got and how many failures so far,
with an estimate of the time left where the run's pace is bounded (`--max-rate`).

On a terminal the status is one live line, rewritten in place; elsewhere (a CI log) plain lines, one per
event and one per heartbeat when nothing else was said for `every` seconds. A heartbeat thread does the
saying: a phase that sends nothing for a while (Schemathesis at a low `--max-rate`) still shows it is alive.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

HEARTBEAT_SECONDS = 5.0
LIVE_REFRESH = 0.25  # a terminal's status line is redrawn at most this often


@dataclass
class Status:
    phase: str = ""  # "mifumo: schema checks", "wepay: semantic checks"
    operation: str = ""  # the operation (or check) in progress
    done: int = 0  # units done in this phase: cases (Schemathesis), checks (semantic)
    total: int | None = None  # units the phase has, when known
    failures: int = 0  # failures so far, the whole run


class Progress:
    """The run's progress line. `say` an event, `update` the status; `requests` counts what was sent."""

    def __init__(
        self,
        write: Callable[[str], None],
        requests: Callable[[], int] = lambda: 0,
        max_rate: float | None = None,
        live: bool = False,
        every: float = HEARTBEAT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.write, self.requests, self.max_rate, self.live, self.every = write, requests, max_rate, live, every
        self.clock = clock
        self.status = Status()
        self.started = self.last_said = self.phase_started = clock()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- what the run tells it -------------------------------------------------------------------------

    def say(self, line: str) -> None:
        with self._lock:
            self._emit(line)

    def phase(self, name: str, total: int | None = None) -> None:
        with self._lock:
            self.status = Status(phase=name, total=total, failures=self.status.failures)
            self.phase_started = self.clock()
            self._emit(name)

    def update(self, operation: str | None = None, done: int = 0, failures: int = 0) -> None:
        """`done` more units of the phase and `failures` more failures; the operation now in progress."""
        with self._lock:
            if operation is not None:
                self.status.operation = operation
            self.status.done += done
            self.status.failures += failures
            if self.live and self.clock() - self.last_said >= LIVE_REFRESH:
                self._emit(self.line(), live=True)

    # -- what it says ----------------------------------------------------------------------------------

    def line(self) -> str:
        status, elapsed = self.status, self.clock() - self.started
        where = status.phase + (f", {status.operation}" if status.operation else "")
        done = f"{status.done}/{status.total}" if status.total else f"{status.done}"
        text = f"{where}: {done} done, {self.requests()} requests, {status.failures} failure(s) so far, {elapsed:.0f}s"
        left = self.estimate()
        return text + (f", about {left:.0f}s left in this phase" if left is not None else "")

    def estimate(self) -> float | None:
        """Seconds left in the phase, when its pace is bounded (`--max-rate`) and its size known: at a steady
        pace, what the units left take at the phase's rate so far."""
        status = self.status
        if not self.max_rate or not status.total or not status.done:
            return None
        rate = status.done / max(self.clock() - self.phase_started, 1e-6)
        return max(0.0, (status.total - status.done) / rate)

    def _emit(self, line: str, live: bool = False) -> None:
        """A line; on a terminal a status line is rewritten in place (`live`), events get lines of their own."""
        self.last_said = self.clock()
        self.write("\r\x1b[2K" + line if live and self.live else line)

    # -- the heartbeat ---------------------------------------------------------------------------------

    def beat(self) -> bool:
        """Say the status when nothing was said for `every` seconds; whether it did."""
        with self._lock:
            if self.clock() - self.last_said < self.every or not self.status.phase:
                return False
            self._emit(self.line(), live=self.live)
            return True

    def __enter__(self) -> Progress:
        def run() -> None:
            while not self._stop.wait(min(1.0, self.every / 5)):
                self.beat()

        self._thread = threading.Thread(target=run, name="billing-conformance-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
