"""Forwarding one request to its API's configured upstream, and nowhere else.

The upstream is chosen by the request's path (the API that owns it) from the configuration alone: the
request target's host (absolute-form) and the `Host` header never select a server, so the proxy is not
an open proxy. Hop-by-hop headers (RFC 9110 section 7.6.1) are not forwarded; `Host` is the upstream's,
and the client's host and scheme travel as `X-Forwarded-Host`/`-Proto`/`-For`. Redirects are answers,
never followed; the environment's proxy settings are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from multidict import CIMultiDict
from yarl import URL

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


# The client adds none of its own headers: what the client sent is what the upstream gets.
_NO_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")


def new_session() -> aiohttp.ClientSession:
    """The proxy's client: aiohttp (its C HTTP parser forwards several times faster than httpx here), keeping
    bodies as sent (no decompression) and cookies out, ignoring the environment's proxy settings."""
    return aiohttp.ClientSession(
        auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        skip_auto_headers=_NO_AUTO_HEADERS,
        trust_env=False,
        connector=aiohttp.TCPConnector(limit=256),
    )


class Upstream:
    """One API's upstream: a fixed base URL, a timeout and a body size cap."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession, timeout: float, max_body: int) -> None:
        self.base = URL(base_url.rstrip("/"))
        self.session = session
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.seconds = timeout
        self.max_body = max_body

    @property
    def origin(self) -> str:
        """`scheme://host[:port]` plus the base path: how the upstream's absolute links begin."""
        return str(self.base).rstrip("/")

    def url_for(self, raw_path: bytes, query_string: bytes) -> URL:
        """The upstream's base with the client's path and query appended, percent-encoding kept as sent."""
        target = self.base.raw_path.rstrip("/") + raw_path.decode("latin-1")
        if query_string:
            target += "?" + query_string.decode("latin-1")
        return URL(f"{self.base.scheme}://{self.base.raw_authority}{target}", encoded=True)

    async def send(self, request: ForwardedRequest) -> UpstreamAnswer:
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in end_to_end(request.headers)]
        headers += [("X-Forwarded-Host", request.client_host), ("X-Forwarded-Proto", request.client_scheme)]
        if request.client_ip:
            headers.append(("X-Forwarded-For", request.client_ip))
        try:
            async with self.session.request(
                request.method,
                self.url_for(request.raw_path, request.query_string),
                headers=CIMultiDict(headers),
                data=request.body or None,
                allow_redirects=False,
                timeout=self.timeout,
            ) as response:
                body = await self._read_capped(response)
                answer_headers = end_to_end(list(response.raw_headers))
                return UpstreamAnswer(response.status, answer_headers, body)
        except TimeoutError:
            raise UpstreamError("timeout", f"the upstream did not answer within {self.seconds:g} s") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise UpstreamError("unreachable", f"the upstream could not be reached: {_reason(exc)}") from None

    async def _read_capped(self, response: aiohttp.ClientResponse) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_any():
            size += len(chunk)
            if size > self.max_body:
                raise UpstreamError("unreachable", f"the upstream's answer exceeds {self.max_body} bytes")
            chunks.append(chunk)
        return b"".join(chunks)


def _reason(exc: Exception) -> str:
    """A transport failure in words: what kind of failure, without Python's names."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"connection refused or failed ({exc.os_error.strerror or 'no detail'})"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the answer was not valid HTTP (the connection closed early)"
    text = " ".join(str(getattr(exc, "message", None) or exc).split())
    if isinstance(exc, aiohttp.ClientResponseError | aiohttp.ClientPayloadError):
        return f"the answer was not valid HTTP ({text or 'unreadable'})"
    return text or "the connection failed"
