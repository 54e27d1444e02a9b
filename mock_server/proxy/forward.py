"""Forwarding one request to its API's configured upstream, and nowhere else.

The upstream is chosen by the request's path (the API that owns it) from the configuration alone: the
request target's host (absolute-form) and the `Host` header never select a server, so the proxy is not
an open proxy. Hop-by-hop headers (RFC 9110 section 7.6.1) are not forwarded; `Host` is the upstream's,
and the client's host and scheme travel as `X-Forwarded-Host`/`-Proto`/`-For`. Redirects are answers,
never followed; the environment's proxy settings are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

# Connection-level headers, meaningful for one hop only, plus those httpx sets for the new hop.
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
    """One API's upstream: a fixed base URL, a timeout and a body size cap."""

    def __init__(self, base_url: str, client: httpx.AsyncClient, timeout: float, max_body: int) -> None:
        self.base = httpx.URL(base_url.rstrip("/"))
        self.client = client
        self.timeout = timeout
        self.max_body = max_body

    @property
    def origin(self) -> str:
        """`scheme://host[:port]` plus the base path: how the upstream's absolute links begin."""
        return str(self.base).rstrip("/")

    def url_for(self, raw_path: bytes, query_string: bytes) -> httpx.URL:
        target = self.base.raw_path.rstrip(b"/") + raw_path
        if query_string:
            target += b"?" + query_string
        return self.base.copy_with(raw_path=target)

    async def send(self, request: ForwardedRequest) -> UpstreamAnswer:
        headers = end_to_end(request.headers)
        headers += [
            (b"x-forwarded-host", request.client_host.encode("latin-1")),
            (b"x-forwarded-proto", request.client_scheme.encode("latin-1")),
        ]
        if request.client_ip:
            headers.append((b"x-forwarded-for", request.client_ip.encode("latin-1")))
        outgoing = self.client.build_request(
            request.method,
            self.url_for(request.raw_path, request.query_string),
            headers=headers,
            content=request.body or None,
            timeout=self.timeout,
        )
        try:
            response = await self.client.send(outgoing, stream=True, follow_redirects=False)
            try:
                body = await self._read_capped(response)
            finally:
                await response.aclose()
        except httpx.TimeoutException:
            raise UpstreamError("timeout", f"the upstream did not answer within {self.timeout:g} s") from None
        except httpx.TransportError as exc:
            raise UpstreamError("unreachable", f"the upstream could not be reached: {_reason(exc)}") from None
        return UpstreamAnswer(response.status_code, end_to_end(list(response.headers.raw)), body)

    async def _read_capped(self, response: httpx.Response) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_raw():
            size += len(chunk)
            if size > self.max_body:
                raise UpstreamError("unreachable", f"the upstream's answer exceeds {self.max_body} bytes")
            chunks.append(chunk)
        return b"".join(chunks)


def _reason(exc: Exception) -> str:
    """A transport failure in words: what kind of failure, without Python's names."""
    text = " ".join(str(exc).split())
    if isinstance(exc, httpx.ConnectError):
        return f"connection refused or failed ({text or 'no detail'})"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the answer was not valid HTTP ({text or 'connection closed early'})"
    return text or "the connection failed"
