"""The one HTTP client every semantic check uses: per-request timeout, a rate cap, the overall deadline,
and a record of the last exchange so a failure can be replayed with `curl`."""

from __future__ import annotations

import json
import shlex
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx


class DeadlineExceeded(Exception):
    """The run's overall time budget is spent."""


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


class RateLimiter:
    """At most `rate` requests per second, spaced evenly (shared by both APIs' clients)."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            delay = self._next - now
            self._next = max(now, self._next) + self.interval
        if delay > 0:
            time.sleep(delay)


class Client:
    """Requests against one API's base URL with its default headers (credentials, Api-Version)."""

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        timeout: float,
        limiter: RateLimiter,
        deadline_at: float | None = None,
        secrets: dict[str, str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.default_headers = headers
        self.limiter = limiter
        self.deadline_at = deadline_at
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

    def request(
        self,
        method: str,
        path_or_url: str,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        replace_headers: bool = False,
    ) -> Exchange:
        if self.deadline_at is not None and time.monotonic() > self.deadline_at:
            raise DeadlineExceeded("overall deadline reached")
        sent = dict(headers or {}) if replace_headers else {**self.default_headers, **(headers or {})}
        self.limiter.wait()
        request = self._http.build_request(method, self.url(path_or_url), params=params, headers=sent)
        response = self._http.send(request)
        exchange = Exchange(method, str(request.url), sent, response.status_code, response.headers, response.text)
        self.last = exchange
        self.history.append(exchange)
        return exchange

    def get(self, path_or_url: str, params: dict[str, Any] | None = None, **kwargs: Any) -> Exchange:
        return self.request("GET", path_or_url, params, **kwargs)

    def close(self) -> None:
        self._http.close()
