"""`billing-mock proxy` forwarding with httpcore's connection pool instead of mock_server/proxy/http1.py, all
else equal (the same app, checks, uvicorn options and command line): bench/proxy.py's comparison row.

`HttpcoreClient` has `Http1Client`'s interface and semantics as far as the comparison needs (keep-alive
connections to one origin, at most `MAX_IN_FLIGHT` at once and `KEEP_IDLE` idle, one deadline for the whole
exchange, the answer read whole up to the cap, failures as `TransportError`); it replaces the class the
proxy's `Upstream` builds, in this process only.

    python bench/httpcore_proxy.py --port N --mifumo-upstream URL --wepay-upstream URL [other proxy flags]
"""

from __future__ import annotations

import asyncio
import ssl
import sys

import httpcore

from mock_server.proxy import forward
from mock_server.proxy.http1 import KEEP_IDLE, MAX_IN_FLIGHT, Answer, Headers, Origin, TransportError

_BODY_METHODS = frozenset({b"POST", b"PUT", b"PATCH"})


class HttpcoreClient:
    """Requests to one origin through `httpcore.AsyncConnectionPool` (HTTP/1.1 only)."""

    def __init__(self, origin: Origin, max_body: int) -> None:
        self.origin = origin
        self.max_body = max_body
        self.scheme = b"https" if origin.tls else b"http"
        self.pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl.create_default_context() if origin.tls else None,
            max_connections=MAX_IN_FLIGHT,
            max_keepalive_connections=KEEP_IDLE,
            http1=True,
            http2=False,
        )

    async def request(self, method: bytes, target: bytes, headers: Headers, body: bytes, timeout: float) -> Answer:
        host = self.origin.host.encode("idna")
        url = httpcore.URL(scheme=self.scheme, host=host, port=self.origin.port, target=target)
        content = body if body or method in _BODY_METHODS else None
        sent = [(b"Host", self.origin.authority), *headers]
        try:
            async with asyncio.timeout(timeout):
                return await self._exchange(method, url, sent, content)
        except TimeoutError:
            raise TransportError("timeout", "no answer in time") from None
        except httpcore.ConnectError as exc:
            raise TransportError("refused", f"connection refused or failed ({exc})") from None
        except (httpcore.RemoteProtocolError, httpcore.LocalProtocolError) as exc:
            raise TransportError("malformed", f"the answer was not valid HTTP ({exc})") from None
        except (httpcore.ReadError, httpcore.WriteError) as exc:
            raise TransportError("closed", f"the connection failed ({exc})") from None

    async def _exchange(self, method: bytes, url: httpcore.URL, headers: Headers, content: bytes | None) -> Answer:
        async with self.pool.stream(method, url, headers=headers, content=content) as response:
            chunks, size = [], 0
            async for chunk in response.aiter_stream():
                size += len(chunk)
                if size > self.max_body:
                    raise TransportError("too-large", f"the upstream's answer exceeds {self.max_body} bytes")
                chunks.append(chunk)
            return Answer(response.status, list(response.headers), b"".join(chunks))

    def close(self) -> None:
        """At shutdown: the pool's connections close with the process (its `aclose` is a coroutine)."""


def main() -> int:
    forward.Http1Client = HttpcoreClient  # type: ignore[misc, assignment]
    from mock_server.cli import main as billing_mock

    return billing_mock(["proxy", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
