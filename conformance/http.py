"""The one HTTP client every semantic check uses: per-request timeout, paced by the run's `Pacer` (rate
cap, deadline, 429s), never following a redirect, and a record of the last exchange so a failure can be
replayed with `curl`."""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass
from typing import Any

import httpx

from conformance import repro
from conformance.pacing import Pacer


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

    def sent(self, name: str) -> str | None:
        """A request header as sent (names compared without regard to case)."""
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    def curl(self, secrets: dict[str, str] | None = None) -> str:
        """A replayable command; configured secrets become `${ENV_VAR}` references, never literal text."""
        return repro.curl(self.method, self.url, self.headers.items(), secrets or {})

    def summary(self) -> str:
        body = self.text if len(self.text) <= 160 else self.text[:160] + "..."
        return f"HTTP {self.status}: {body}"


class Client:
    """Requests against one API's base URL with its default headers (credentials, Api-Version).

    Every request goes through the run's pacer (rate, deadline, 429 waited out: the check sees the answer
    after the wait, never the 429 itself), gets at most `timeout` seconds, never follows a redirect and
    trusts what the run's TLS settings trust.
    """

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        timeout: float,
        pacer: Pacer,
        secrets: dict[str, str] | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.default_headers = headers
        self.pacer = pacer
        self.timeout = timeout
        # `verify`: the run's TLS context (conformance.tls), the one every request of the run uses.
        self._http = httpx.Client(timeout=timeout, follow_redirects=False, verify=verify)
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
        sent = dict(headers or {}) if replace_headers else {**self.default_headers, **(headers or {})}

        def send(timeout: float | None) -> Exchange:
            request = self._http.build_request(
                method, self.url(path_or_url), params=params, headers=sent, timeout=timeout
            )
            # Recorded before sending, so a timeout or a dropped connection still has a curl to replay.
            self.last = Exchange(method, str(request.url), sent, 0, httpx.Headers(), "")
            response = self._http.send(request)
            exchange = Exchange(method, str(request.url), sent, response.status_code, response.headers, response.text)
            self.last = exchange
            self.history.append(exchange)
            return exchange

        return self.pacer.send(send, lambda e: e.status, lambda e: e.header("Retry-After"), self.timeout)

    def get(self, path_or_url: str, params: dict[str, Any] | None = None, **kwargs: Any) -> Exchange:
        return self.request("GET", path_or_url, params, **kwargs)

    def close(self) -> None:
        self._http.close()
