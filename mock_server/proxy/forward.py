"""Forwarding one request to its API's configured upstream, and nowhere else.

The upstream is chosen by the request's path (the API that owns it) from the configuration alone: the
request target's host (absolute-form) and the `Host` header never select a server, so the proxy is not
an open proxy. Hop-by-hop headers (RFC 9110 section 7.6.1) are not forwarded; `Host` is the upstream's,
and the client's host and scheme travel as `X-Forwarded-Host`/`-Proto`/`-For`. Redirects are answers,
never followed; the environment's proxy settings are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from mock_server.proxy.http1 import Http1Client, Origin, TransportError

# Connection-level headers, meaningful for one hop only, plus those the client sets for the new hop.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"content-length",
    }
)

Headers = list[tuple[bytes, bytes]]


class UpstreamError(Exception):
    """The upstream gave no usable answer: `unreachable` (502) or `timeout` (504)."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail

    @property
    def status(self) -> int:
        return 504 if self.kind == "timeout" else 502


@dataclass(frozen=True)
class ForwardedRequest:
    method: str
    raw_path: bytes  # as the client sent it, percent-encoding kept
    query_string: bytes
    headers: Headers
    body: bytes
    client_host: str  # the client's Host header (or the proxy's address)
    client_scheme: str
    client_ip: str | None


@dataclass(frozen=True)
class UpstreamAnswer:
    status: int
    headers: Headers  # end-to-end headers only
    body: bytes


def end_to_end(headers: Headers) -> Headers:
    connection_tokens = {
        token.strip().lower() for name, value in headers if name.lower() == b"connection" for token in value.split(b",")
    }
    return [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP and k.lower() not in connection_tokens]


class Upstream:
    """One API's upstream: a fixed base URL, a timeout and a body size cap, over `Http1Client`."""

    def __init__(self, base_url: str, timeout: float, max_body: int) -> None:
        self.base = urlsplit(base_url.rstrip("/"))
        self.seconds = timeout
        self.client = Http1Client(Origin.of(self.base.scheme, self.base.hostname or "", self.base.port), max_body)

    @property
    def origin(self) -> str:
        """`scheme://host[:port]` plus the base path: how the upstream's absolute links begin."""
        return f"{self.base.scheme}://{self.base.netloc}{self.base.path}".rstrip("/")

    def target_for(self, raw_path: bytes, query_string: bytes) -> bytes:
        """The upstream's base path with the client's path and query appended, percent-encoding as sent."""
        target = self.base.path.rstrip("/").encode("latin-1") + raw_path
        return target + b"?" + query_string if query_string else target

    async def send(self, request: ForwardedRequest) -> UpstreamAnswer:
        headers = end_to_end(request.headers)
        headers += [
            (b"X-Forwarded-Host", request.client_host.encode("latin-1")),
            (b"X-Forwarded-Proto", request.client_scheme.encode("latin-1")),
        ]
        if request.client_ip:
            headers.append((b"X-Forwarded-For", request.client_ip.encode("latin-1")))
        target = self.target_for(request.raw_path, request.query_string)
        method = request.method.encode("latin-1")
        try:
            answer = await self.client.request(method, target, headers, request.body, self.seconds)
        except TransportError as exc:
            if exc.kind == "timeout":
                raise UpstreamError("timeout", f"the upstream did not answer within {self.seconds:g} s") from None
            raise UpstreamError("unreachable", _reason(exc)) from None
        return UpstreamAnswer(answer.status, end_to_end(answer.headers), answer.body)

    def close(self) -> None:
        self.client.close()


def _reason(exc: TransportError) -> str:
    """A transport failure in words, as the 502's detail gives it."""
    if exc.kind == "too-large":
        return exc.message
    return f"the upstream could not be reached: {exc.message}"
