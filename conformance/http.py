"""The one HTTP client every semantic check uses: per-request timeout, a rate cap, the overall deadline,
and a record of the last exchange so a failure can be replayed with `curl`."""

from __future__ import annotations

import json
import shlex
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

import httpx


class DeadlineExceeded(Exception):
    """The run's overall time budget is spent."""


# How far apart, beyond 1/rate, requests are spaced: the cap holds at the server despite scheduling jitter.
RATE_MARGIN = 0.05
# Without a deadline, one 429 is waited out at most this long and a request retried at most this often;
# past that the 429 is the answer (a finding), so a server that always throttles cannot hold the run.
MAX_RETRY_AFTER = 60.0
MAX_THROTTLE_RETRIES = 5


def remaining(deadline_at: float | None) -> float | None:
    return None if deadline_at is None else deadline_at - time.monotonic()


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


class Throttled:
    """What waiting out 429s cost a run: how many and how long (shared by every client and Schemathesis)."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0
        self._lock = threading.Lock()

    def add(self, seconds: float) -> None:
        with self._lock:
            self.count += 1
            self.seconds += seconds


def wait_out_429(status: int, retry_after: str | None, attempt: int, deadline_at: float | None) -> float | None:
    """Seconds to sleep before retrying a throttled request, or None when its 429 is the answer.

    Raises DeadlineExceeded when the wait would outlast the run's deadline."""
    if status != 429 or attempt >= MAX_THROTTLE_RETRIES:
        return None
    delay = retry_after_seconds(retry_after)
    if delay is None:
        return None
    left = remaining(deadline_at)
    if left is not None:
        if delay >= left:
            raise DeadlineExceeded(f"overall deadline reached: a 429 asked for {delay:g}s, {max(left, 0):.1f}s left")
    elif delay > MAX_RETRY_AFTER:
        return None
    return delay


class RateLimiter:
    """Never more than `rate` requests in any 1-second window, for every request of a run (the probes,
    Schemathesis' requests and the semantic checks share one limiter).

    Requests are spaced at least (1 + RATE_MARGIN) / rate seconds apart, and at most floor(rate) of them
    start within any 1 + RATE_MARGIN seconds (which also covers requests stamped in a burst with `stamp`).
    """

    def __init__(self, rate: float | None, deadline_at: float | None = None) -> None:
        self.rate = rate
        self.interval = (1.0 + RATE_MARGIN) / rate if rate else 0.0
        self.per_window = max(1, int(rate)) if rate else 0
        self.deadline_at = deadline_at
        self._sent: deque[float] = deque(maxlen=self.per_window or 1)
        self._lock = threading.Lock()

    def _earliest(self, count: int) -> float:
        """When `count` more requests may start together."""
        if not self._sent:
            return 0.0
        earliest = self._sent[-1] + self.interval
        # The request `per_window` places back must be a whole window (plus margin) old.
        back = self.per_window - count
        if back < 0:
            back = 0
        if len(self._sent) > back:
            earliest = max(earliest, self._sent[-1 - back] + 1.0 + RATE_MARGIN)
        return earliest

    def wait(self, count: int = 1) -> None:
        """Block until `count` requests may start now, and record them; DeadlineExceeded if that is too late."""
        if not self.interval:
            if self.deadline_at is not None and time.monotonic() > self.deadline_at:
                raise DeadlineExceeded("overall deadline reached")
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._earliest(count))
            if self.deadline_at is not None and start > self.deadline_at:
                raise DeadlineExceeded("overall deadline reached (the rate cap leaves no room for another request)")
            if start > now:
                time.sleep(start - now)
            self._stamp(count)

    def stamp(self, count: int = 1) -> None:
        """Record `count` requests sent now (by code that did not wait, e.g. Schemathesis' probes)."""
        with self._lock:
            self._stamp(count)

    def _stamp(self, count: int) -> None:
        if self.interval:
            now = time.monotonic()
            self._sent.extend([now] * count)


@dataclass(frozen=True)
class Exchange:
    method: str
    url: str
    headers: dict[str, str]
    status: int
    response_headers: httpx.Headers
    text: str

    def json(self) -> Any:
        try:
            return json.loads(self.text)
        except ValueError:
            return None

    def header(self, name: str) -> str | None:
        return self.response_headers.get(name)

    def curl(self, secrets: dict[str, str] | None = None) -> str:
        """A replayable command; configured secrets become `${ENV_VAR}` references, never literal text."""
        parts = ["curl", "-i", "-X", self.method, shlex.quote(self.url)]
        for name, value in self.headers.items():
            header = f"{name}: {value}"
            hidden = [secret for secret in (secrets or {}) if secret and secret in header]
            if hidden:
                for secret in hidden:
                    header = header.replace(secret, f"${{{(secrets or {})[secret]}}}")
                parts += ["-H", '"' + header.replace('"', '\\"') + '"']
            else:
                parts += ["-H", shlex.quote(header)]
        return " ".join(parts)

    def summary(self) -> str:
        body = self.text if len(self.text) <= 300 else self.text[:300] + "..."
        return f"{self.status} {body}"


class Client:
    """Requests against one API's base URL with its default headers (credentials, Api-Version).

    Every request waits for the shared rate limiter, gets at most `timeout` seconds (less when the deadline
    is nearer), never follows a redirect, and a 429 with `Retry-After` is waited out and retried (within the
    deadline): the check sees the answer after the wait, never the 429 itself.
    """

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        timeout: float,
        limiter: RateLimiter,
        deadline_at: float | None = None,
        secrets: dict[str, str] | None = None,
        throttled: Throttled | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.default_headers = headers
        self.limiter = limiter
        self.deadline_at = deadline_at
        self.timeout = timeout
        self.throttled = throttled or Throttled()
        self._http = httpx.Client(timeout=timeout, follow_redirects=False)
        # Secret value -> the environment variable a curl command should read it from.
        self.secrets = secrets or {}
        self.last: Exchange | None = None
        self.history: list[Exchange] = []

    def url(self, path_or_url: str) -> str:
        """Absolute links are followed as given; relative ones hang off the base URL (keeping its path)."""
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return self.base_url + path_or_url

    def _timeout(self) -> float:
        left = remaining(self.deadline_at)
        if left is not None and left <= 0:
            raise DeadlineExceeded("overall deadline reached")
        return self.timeout if left is None else min(self.timeout, left)

    def request(
        self,
        method: str,
        path_or_url: str,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        replace_headers: bool = False,
    ) -> Exchange:
        sent = dict(headers or {}) if replace_headers else {**self.default_headers, **(headers or {})}
        attempt = 0
        while True:
            self._timeout()
            self.limiter.wait()
            request = self._http.build_request(
                method, self.url(path_or_url), params=params, headers=sent, timeout=self._timeout()
            )
            # Recorded before sending, so a timeout or a dropped connection still has a curl to replay.
            self.last = Exchange(method, str(request.url), sent, 0, httpx.Headers(), "")
            response = self._http.send(request)
            exchange = Exchange(method, str(request.url), sent, response.status_code, response.headers, response.text)
            self.last = exchange
            self.history.append(exchange)
            delay = wait_out_429(response.status_code, response.headers.get("Retry-After"), attempt, self.deadline_at)
            if delay is None:
                return exchange
            self.throttled.add(delay)
            time.sleep(delay)
            attempt += 1

    def get(self, path_or_url: str, params: dict[str, Any] | None = None, **kwargs: Any) -> Exchange:
        return self.request("GET", path_or_url, params, **kwargs)

    def close(self) -> None:
        self._http.close()
