"""The HTTP client the semantic checks use: per-request timeout, paced by the run's `Pacer` through the
API's `Lane` (rate cap, deadline, 429s, requests in flight), never following a redirect, and a record of
each check's last exchange so a failure can be replayed with `curl`.

One `Session` per API holds what the checks share: the connection pool and the answers already
fetched. A GET is sent once per run: checks asking for the same URL with the same headers (a page two
walks visit, page 1 every check starts from) get the one answer, fetched by whichever asked first
while the others wait. Each check talks through its own `Client`, which keeps that check's last
exchange and the requests its verdict rests on, so checks running side by side never see each other's.
"""

from __future__ import annotations

import http.cookiejar
import itertools
import json
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from conformance import repro
from conformance.concurrency import Shared
from conformance.pacing import Lane, Pacer


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


RequestKey = tuple[str, str, tuple[tuple[str, str], ...]]


def request_key(method: str, url: str, headers: dict[str, str]) -> RequestKey:
    """What makes two requests the same request: method, URL with its query in sorted order (a server
    reads `?a=1&b=2` and `?b=2&a=1` alike; DRF writes its links sorted), headers without regard to case."""
    parts = urlsplit(url)
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return (
        method.upper(),
        urlunsplit((parts.scheme, parts.netloc, parts.path, query, "")),
        tuple(sorted((k.lower(), v) for k, v in headers.items())),
    )


def _no_cookies() -> http.cookiejar.CookieJar:
    """A jar that keeps nothing: every request is exactly what its curl repro sends, whatever was
    answered before it (and whichever check ran first)."""
    return http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


class Session:
    """One API's connection pool, default headers and shared answers; used by every check of the API."""

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        timeout: float,
        lane: Lane,
        secrets: dict[str, str] | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.default_headers = headers
        self.lane = lane
        self.timeout = timeout
        # `verify`: the run's TLS context (conformance.tls), the one every request of the run uses.
        self._http = httpx.Client(timeout=timeout, follow_redirects=False, verify=verify, cookies=_no_cookies())
        # Secret value -> the environment variable a curl command should read it from.
        self.secrets = secrets or {}
        self._answers: Shared[Exchange] = Shared()

    @property
    def pacer(self) -> Pacer:
        return self.lane.pacer

    def url(self, path_or_url: str) -> str:
        """Absolute links are followed as given; relative ones hang off the base URL (keeping its path)."""
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return self.base_url + path_or_url

    def build(self, method: str, path_or_url: str, params: dict[str, Any] | None, sent: dict[str, str]) -> str:
        """The URL a request goes to, its query encoded as httpx encodes it."""
        return str(self._http.build_request(method, self.url(path_or_url), params=params, headers=sent).url)

    def send(self, method: str, url: str, sent: dict[str, str]) -> Exchange:
        """One request through the lane; a GET is sent once per run and its answer shared."""
        if method.upper() != "GET":
            return self._send(method, url, sent)
        return self._answers.get(request_key(method, url, sent), lambda: self._send(method, url, sent))

    def _send(self, method: str, url: str, sent: dict[str, str]) -> Exchange:
        def once(timeout: float | None) -> Exchange:
            request = self._http.build_request(method, url, headers=sent, timeout=timeout)
            response = self._http.send(request)
            return Exchange(method, str(request.url), sent, response.status_code, response.headers, response.text)

        return self.lane.send(once, lambda e: e.status, lambda e: e.header("Retry-After"), self.timeout)

    def close(self) -> None:
        self._http.close()


class Client:
    """One check's way to its API: requests through the shared `Session`, the check's last exchange
    (for a failure's curl), and the distinct requests the check's verdict rests on (`requests`),
    shared ones included, so the count is the same whichever check happened to send them."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.last: Exchange | None = None
        # How many requests this client made (a shared value's computation tells its own apart by it).
        self.made = 0
        self._used: list[set[Any]] = [set()]
        # Requests that are never shared (not a GET) are told apart by their number.
        self._unshared = itertools.count()

    @property
    def base_url(self) -> str:
        return self.session.base_url

    @property
    def default_headers(self) -> dict[str, str]:
        return self.session.default_headers

    @property
    def pacer(self) -> Pacer:
        return self.session.pacer

    @property
    def timeout(self) -> float:
        return self.session.timeout

    @property
    def secrets(self) -> dict[str, str]:
        return self.session.secrets

    @property
    def requests(self) -> int:
        return len(self._used[0])

    def url(self, path_or_url: str) -> str:
        return self.session.url(path_or_url)

    def request(
        self,
        method: str,
        path_or_url: str,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        replace_headers: bool = False,
    ) -> Exchange:
        sent = dict(headers or {}) if replace_headers else {**self.default_headers, **(headers or {})}
        url = self.session.build(method, path_or_url, params, sent)
        # Recorded before sending, so a timeout or a dropped connection still has a curl to replay.
        self.last = Exchange(method, url, sent, 0, httpx.Headers(), "")
        key = request_key(method, url, sent)
        self.note({key if method.upper() == "GET" else (key, next(self._unshared))})
        self.made += 1
        exchange = self.session.send(method, url, sent)
        self.last = exchange
        return exchange

    def get(self, path_or_url: str, params: dict[str, Any] | None = None, **kwargs: Any) -> Exchange:
        return self.request("GET", path_or_url, params, **kwargs)

    def note(self, keys: set[Any]) -> None:
        """Count `keys` as requests this check (and whatever shared value it is computing) rests on."""
        for used in self._used:
            used |= keys

    @contextmanager
    def recording(self) -> Iterator[set[Any]]:
        """The requests made inside the block, collected apart as well (for a shared value's own count)."""
        keys: set[Any] = set()
        self._used.append(keys)
        try:
            yield keys
        finally:
            self._used.pop()
