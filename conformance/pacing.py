"""The run's one pacer: every request of a run — the preflight, Schemathesis' cases and the
semantic checks — goes through the same `Pacer`, which owns the three things that bound a run against a
real backend: the request rate (`--max-rate`), the overall deadline (`--deadline`) and 429 answers with
`Retry-After` (waited out and retried, within the deadline). The HTTP client and the Schemathesis
transport only plug their own send function into `Pacer.send`.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import TypeVar

R = TypeVar("R")

# How far apart, beyond 1/rate, requests are spaced: the cap holds at the server despite scheduling jitter.
RATE_MARGIN = 0.05
# Without a deadline, one 429 is waited out at most this long and a request retried at most this often;
# past that the 429 is the answer (a finding), so a server that always throttles cannot hold the run.
MAX_RETRY_AFTER = 60.0
MAX_THROTTLE_RETRIES = 5


# Set when the run is stopped from outside (SIGTERM, Ctrl-C): from then on no request starts.
STOP = threading.Event()


class DeadlineExceeded(Exception):
    """The run's overall time budget is spent."""


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds to wait: delay-seconds or an HTTP-date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


class Pacer:
    """Rate, deadline and 429s for every request of a run.

    Rate: never more than `rate` requests in any 1-second window. Requests are spaced at least
    (1 + RATE_MARGIN) / rate seconds apart, and at most floor(rate) of them start within any
    1 + RATE_MARGIN seconds. Deadline: nothing starts after it, and a request gets only the time left.
    429: a `Retry-After` is waited out and the request retried, up to MAX_THROTTLE_RETRIES times.
    """

    def __init__(self, rate: float | None = None, deadline_at: float | None = None) -> None:
        self.rate = rate
        self.interval = (1.0 + RATE_MARGIN) / rate if rate else 0.0
        self.per_window = max(1, int(rate)) if rate else 0
        self.deadline_at = deadline_at
        self._sent: deque[float] = deque(maxlen=self.per_window or 1)
        self._lock = threading.Lock()
        # What waiting out 429s cost the run: how many and how long.
        self.throttled = 0
        self.requests = 0  # requests let through, the whole run (progress lines and the summary count them)
        self.throttled_seconds = 0.0

    # -- the deadline ------------------------------------------------------------------------------

    def remaining(self) -> float | None:
        return None if self.deadline_at is None else self.deadline_at - time.monotonic()

    def expired(self) -> bool:
        left = self.remaining()
        return left is not None and left <= 0

    def timeout(self, requested: float | None) -> float | None:
        """The time a request may take: `requested`, or less when the deadline is nearer."""
        _stop_if_asked()
        left = self.remaining()
        if left is None:
            return requested
        if left <= 0:
            raise DeadlineExceeded("overall deadline reached")
        return left if requested is None else min(requested, left)

    # -- the rate ----------------------------------------------------------------------------------

    def _earliest(self, count: int) -> float:
        """When `count` more requests may start together."""
        if not self._sent:
            return 0.0
        earliest = self._sent[-1] + self.interval
        # The request `per_window` places back must be a whole window (plus margin) old.
        back = max(0, self.per_window - count)
        if len(self._sent) > back:
            earliest = max(earliest, self._sent[-1 - back] + 1.0 + RATE_MARGIN)
        return earliest

    def wait(self, count: int = 1) -> None:
        """Block until `count` requests may start now, and record them; DeadlineExceeded if that is too late."""
        _stop_if_asked()
        if not self.interval:
            if self.expired():
                raise DeadlineExceeded("overall deadline reached")
            self.requests += count
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._earliest(count))
            if self.deadline_at is not None and start > self.deadline_at:
                raise DeadlineExceeded("overall deadline reached (the rate cap leaves no room for another request)")
            if start > now:
                time.sleep(start - now)
            now = time.monotonic()
            self._sent.extend([now] * count)
            self.requests += count

    # -- 429 ---------------------------------------------------------------------------------------

    def retry_delay(self, status: int, retry_after: str | None, attempt: int) -> float | None:
        """Seconds to sleep before retrying a throttled request, or None when its 429 is the answer.

        Raises DeadlineExceeded when the wait would outlast the run's deadline."""
        if status != 429 or attempt >= MAX_THROTTLE_RETRIES:
            return None
        delay = retry_after_seconds(retry_after)
        if delay is None:
            return None
        left = self.remaining()
        if left is not None:
            if delay >= left:
                raise DeadlineExceeded(
                    f"overall deadline reached: a 429 asked for {delay:g}s, {max(left, 0):.1f}s left"
                )
        elif delay > MAX_RETRY_AFTER:
            return None
        return delay

    def _wait_out(self, delay: float) -> None:
        with self._lock:
            self.throttled += 1
            self.throttled_seconds += delay
        time.sleep(delay)

    # -- one request -------------------------------------------------------------------------------

    def send(
        self,
        send: Callable[[float | None], R],
        status: Callable[[R], int],
        retry_after: Callable[[R], str | None],
        timeout: float | None,
    ) -> R:
        """`send(timeout)` paced: after the rate allows, within the deadline, retried after a waited-out 429."""
        attempt = 0
        while True:
            self.timeout(timeout)
            self.wait()
            response = send(self.timeout(timeout))
            delay = self.retry_delay(status(response), retry_after(response), attempt)
            if delay is None:
                return response
            self._wait_out(delay)
            attempt += 1


class Interrupted(DeadlineExceeded):
    """The run was stopped from outside: what did not run is reported as the deadline's leftovers are."""


def _stop_if_asked() -> None:
    if STOP.is_set():
        raise Interrupted("the run was stopped")
