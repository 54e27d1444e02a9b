"""The run's one pacer: every request of a run — the preflight, Schemathesis' cases and the
semantic checks — goes through the same `Pacer`, which owns the three things that bound a run against a
real backend: the request rate (`--max-rate`), the overall deadline (`--deadline`) and 429 answers with
`Retry-After` (waited out and retried, within the deadline). The HTTP client and the Schemathesis
transport only plug their own send function into `Pacer.send`, through their API's `Lane`, which lets
at most `--concurrency` of that API's requests be in flight at once.

Every method may be called from any thread: the rate is decided under one lock, so N threads together
never start more requests than one would be allowed to, and under a rate cap requests leave one at a
time (each after the one before it was answered), so the count at the server is the one decided here; a
429 holds back every request of its API until its `Retry-After` has passed, instead of letting the other
threads run into the same limit.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
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
        # What waiting out 429s cost the run: how many, and for how long some request was held back by one
        # (overlapping waits of requests in flight together count once; one after another, they add up).
        self.throttled = 0
        self.throttled_seconds = 0.0
        self._held_until = 0.0
        # Every request sent (retries after a 429 included), in all and per key (an API's lane).
        self.requests = 0
        self.requests_by: Counter[str] = Counter()
        # Per key, when the last 429's Retry-After ends: no request of that key starts before.
        self._held: dict[str, float] = {}
        # This run only, stopped (the caller was interrupted): like STOP, but not for other runs.
        self._stopped = threading.Event()
        # Under a rate cap, held by the one request on its way (`_one_at_a_time`).
        self._leaving = threading.Lock()

    def stop(self) -> None:
        """No request of this run starts from now on (the others already in flight end on their own)."""
        self._stopped.set()

    def check(self) -> None:
        """Interrupted when the run was stopped, DeadlineExceeded once the deadline is spent."""
        _stop_if_asked(self._stopped)
        if self.expired():
            raise DeadlineExceeded("overall deadline reached")

    # -- the deadline ------------------------------------------------------------------------------

    def remaining(self) -> float | None:
        return None if self.deadline_at is None else self.deadline_at - time.monotonic()

    def expired(self) -> bool:
        left = self.remaining()
        return left is not None and left <= 0

    def timeout(self, requested: float | None) -> float | None:
        """The time a request may take: `requested`, or less when the deadline is nearer."""
        _stop_if_asked(self._stopped)
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
        _stop_if_asked(self._stopped)
        if not self.interval:
            if self.expired():
                raise DeadlineExceeded("overall deadline reached")
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

    def _wait_out(self, key: str, delay: float) -> None:
        """Count a 429 and hold every request of `key` until its Retry-After has passed."""
        with self._lock:
            now = time.monotonic()
            self.throttled += 1
            self.throttled_seconds += max(0.0, now + delay - max(now, self._held_until))
            self._held_until = max(self._held_until, now + delay)
            self._held[key] = max(self._held.get(key, 0.0), now + delay)
        self._wait_held(key)

    def _wait_held(self, key: str) -> None:
        """Sleep while `key` is held by a 429 (in short steps, so a stop is seen); too late is the deadline."""
        while True:
            _stop_if_asked(self._stopped)
            with self._lock:
                left = self._held.get(key, 0.0) - time.monotonic()
            if left <= 0:
                return
            if self.deadline_at is not None and time.monotonic() + left > self.deadline_at:
                raise DeadlineExceeded("overall deadline reached while waiting out a 429")
            time.sleep(min(left, 0.25))

    @contextlib.contextmanager
    def _one_at_a_time(self) -> Iterator[None]:
        """Under a rate cap, one request at a time, each after the one before it was answered.

        The time recorded for a request is when the pacer let it go, not when it reached the wire; with
        others in flight, the thread sending it may wait for the interpreter first, and the cap's margin
        (RATE_MARGIN) was eaten (measured: 41 requests in one second at --max-rate 40, 4 in flight). The cap,
        not the backend, paces such a run: what a rate of N a second needs in flight is N times an answer's
        time, one at the caps this suite is given (2-3 a second for WePay's limit)."""
        if not self.interval:
            yield
            return
        while not self._leaving.acquire(timeout=0.05):
            self.check()
        try:
            yield
        finally:
            self._leaving.release()

    def _count(self, key: str) -> None:
        with self._lock:
            self.requests += 1
            self.requests_by[key] += 1

    # -- one request -------------------------------------------------------------------------------

    def send(
        self,
        send: Callable[[float | None], R],
        status: Callable[[R], int],
        retry_after: Callable[[R], str | None],
        timeout: float | None,
        key: str = "",
    ) -> R:
        """`send(timeout)` paced: after the rate allows, within the deadline, retried after a waited-out 429
        (which holds back every request of the same `key` meanwhile)."""
        attempt = 0
        while True:
            self.timeout(timeout)
            self._wait_held(key)
            with self._one_at_a_time():
                self.wait()
                self._count(key)
                response = send(self.timeout(timeout))
            delay = self.retry_delay(status(response), retry_after(response), attempt)
            if delay is None:
                return response
            self._wait_out(key, delay)
            attempt += 1


class Lane:
    """One API's way through the run's pacer: at most `concurrency` of its requests in flight at once.

    A slot is taken before the pacer is asked, so the time the pacer records for a request is when it
    starts, not when it was queued: N threads waiting for slots cannot bunch their requests up beyond
    the rate. The slot is kept through a 429's wait and retry (the API is throttled: nothing gains from
    sending it more meanwhile).
    """

    def __init__(self, pacer: Pacer, name: str, concurrency: int = 1) -> None:
        self.pacer = pacer
        self.name = name
        self.concurrency = max(1, concurrency)
        self._slots = threading.Semaphore(self.concurrency)

    def send(
        self,
        send: Callable[[float | None], R],
        status: Callable[[R], int],
        retry_after: Callable[[R], str | None],
        timeout: float | None,
    ) -> R:
        self._take_slot()
        try:
            return self.pacer.send(send, status, retry_after, timeout, key=self.name)
        finally:
            self._slots.release()

    def _take_slot(self) -> None:
        """Wait for a free slot, seeing a stop or the deadline while waiting."""
        while not self._slots.acquire(timeout=0.05):
            self.pacer.check()


class Interrupted(DeadlineExceeded):
    """The run was stopped from outside: what did not run is reported as the deadline's leftovers are."""


def _stop_if_asked(stopped: threading.Event | None = None) -> None:
    if STOP.is_set() or (stopped is not None and stopped.is_set()):
        raise Interrupted("the run was stopped")
