"""The proxy's HTTP/1.1 client: keep-alive connections to one fixed origin, answers parsed by httptools.

Why not aiohttp, httpx or httpcore: the proxy needs one narrow thing, sending a request it already holds
whole to a fixed origin and reading the whole answer back (capped), and their general request machinery
(sessions, cookie jars, URL objects, redirects, streaming readers; httpcore's pool, anyio and h11's
pure-Python parser) was most of the proxy's own time. bench/proxy.py, the proxy on its own CPU, same app and
checks: 3,500 req/s with aiohttp, 5,300 with this module (2026-11-28). httpcore 1.0.9's
`AsyncConnectionPool` (bench/httpcore_proxy.py, the client swapped, all else equal; 2026-11-29, a loaded
machine, same-run figures): 467-615 req/s on identical requests against this module's 2,148-2,203 (3.6-4.6x),
382-499 against 1,434-2,127 on distinct ones (2.9-5.6x), p50 22-36 ms against 6.8-9.4 ms; the clients alone,
16 requests at a time to the mock: about 550 req/s against 5,900. Parsing is not
hand-written: httptools (llhttp, the parser uvicorn serves with) reads status, headers, chunked and
length-delimited bodies and keep-alive, and refuses malformed answers. TLS is asyncio's
(`ssl.create_default_context()`: the system's CAs, or `SSL_CERT_FILE`).

What the module decides itself, each in one place below: which answers have no body (HEAD, 1xx, 204,
304), a body delimited by the connection closing, interim 1xx answers skipped, a reused connection that
the upstream closed while idle retried once on a new one (safe methods only), and a connection that
failed, timed out or sent more than the one answer asked for never reused (an upstream out of step must not
hand one client's request another answer).
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass

import httptools

Headers = list[tuple[bytes, bytes]]

SAFE_METHODS = frozenset({b"GET", b"HEAD", b"OPTIONS"})
_BODY_METHODS = frozenset({b"POST", b"PUT", b"PATCH"})
_NO_BODY_STATUSES = frozenset({204, 304})
# Connections kept open between requests, and requests in flight, per origin.
KEEP_IDLE = 64
MAX_IN_FLIGHT = 256
# An answer's header section larger than this is refused as the body over its cap is: the proxy holds both.
MAX_HEADER_BYTES = 256 * 1024


class TransportError(Exception):
    """No complete answer: `refused` (no connection), `malformed` (not HTTP), `closed` (ended early),
    `too-large` (over the cap), `timeout`. The message says it in words, without Python's names."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Headers  # as received, names in their original case
    body: bytes


@dataclass(frozen=True)
class Origin:
    """Where every request of one client goes: scheme, host and port, fixed at start-up."""

    host: str
    port: int
    tls: bool
    authority: bytes  # the Host header's value

    @classmethod
    def of(cls, scheme: str, host: str, port: int | None) -> Origin:
        tls = scheme == "https"
        port = port or (443 if tls else 80)
        default = port == (443 if tls else 80)
        name = f"[{host}]" if ":" in host else host
        return cls(host, port, tls, (name if default else f"{name}:{port}").encode("idna"))


class _Connection(asyncio.Protocol):
    """One connection to the origin, one exchange at a time; httptools calls the `on_*` methods."""

    def __init__(self, max_body: int) -> None:
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._answer: asyncio.Future[Answer] | None = None
        self._max_body = max_body
        self.open = True
        self.reusable = False
        self._start(head_only=False)

    def _start(self, head_only: bool) -> None:
        self._head_only = head_only
        self._headers: Headers = []
        self._header_bytes = 0
        self._chunks: list[bytes] = []
        self._size = 0
        self._received = False
        self._until_close = False  # the body ends when the connection does (no length, not chunked)
        self.reusable = False

    async def exchange(self, request: bytes, head_only: bool) -> Answer:
        assert self._transport is not None
        self._start(head_only)
        self._answer = asyncio.get_running_loop().create_future()
        self._transport.write(request)
        return await self._answer

    def close(self) -> None:
        self.open = False
        self.reusable = False
        if self._transport is not None:
            self._transport.close()

    def time_out(self) -> None:
        self._fail("timeout", "no answer in time")

    # -- asyncio.Protocol ---------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._answer is None or self._answer.done():  # bytes nobody asked for: the connection is unusable
            self.close()
            return
        self._received = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail("malformed", "the upstream switched protocols")
        except httptools.HttpParserError as exc:
            self._fail("malformed", f"the answer was not valid HTTP ({_parser_reason(exc)})")

    def eof_received(self) -> bool:
        return False  # the transport closes; connection_lost decides

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        self.reusable = False
        if self._answer is None or self._answer.done():
            return
        if self._until_close:
            self._finish()
        elif self._received:
            self._fail("malformed", "the answer was not valid HTTP (the connection closed early)")
        else:
            self._fail("closed", "the upstream closed the connection without answering")

    # -- httptools callbacks ----------------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._answer is None or self._answer.done():  # a second answer to one request: out of step
            self.close()

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._answer is None or self._answer.done():
            return
        self._header_bytes += len(name) + len(value) + 4
        if self._header_bytes > MAX_HEADER_BYTES:
            self._fail("too-large", f"the upstream's answer headers exceed {MAX_HEADER_BYTES} bytes")
            return
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 200:
            return
        if self._head_only:  # the parser cannot know the request was HEAD: the answer ends here
            self._finish()
            self.close()
            return
        delimited = any(k.lower() in (b"content-length", b"transfer-encoding") for k, _ in self._headers)
        self._until_close = not delimited and status not in _NO_BODY_STATUSES

    def on_body(self, body: bytes) -> None:
        if self._answer is None or self._answer.done():
            return
        self._size += len(body)
        if self._size > self._max_body:
            self._fail("too-large", f"the upstream's answer exceeds {self._max_body} bytes")
            return
        self._chunks.append(body)

    def on_message_complete(self) -> None:
        if self._parser.get_status_code() < 200:  # an interim answer (100, 103): the real one follows
            self._headers = []
            return
        if self._answer is not None and not self._answer.done():
            self.reusable = self.open and self._parser.should_keep_alive()
            self._finish()

    # -- outcomes ---------------------------------------------------------------------------------------

    def _finish(self) -> None:
        if self._answer is not None and not self._answer.done():
            status = self._parser.get_status_code()
            self._answer.set_result(Answer(status, self._headers, b"".join(self._chunks)))

    def _fail(self, kind: str, message: str) -> None:
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(TransportError(kind, message))
        self.close()


def _parser_reason(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return text.removeprefix("HPE_").replace("_", " ").lower() or "unreadable"


def _connect_reason(exc: OSError) -> str:
    return f"connection refused or failed ({exc.strerror or ' '.join(str(exc).split()) or 'no detail'})"


class Http1Client:
    """Requests to one origin over keep-alive connections; at most `MAX_IN_FLIGHT` at once."""

    def __init__(self, origin: Origin, max_body: int) -> None:
        self.origin = origin
        self.max_body = max_body
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._tls = ssl.create_default_context() if origin.tls else None

    async def request(self, method: bytes, target: bytes, headers: Headers, body: bytes, timeout: float) -> Answer:
        """The whole answer to one request within `timeout` seconds; `TransportError` when there is none
        (kind `timeout` when the time ran out, the connection then closed)."""
        data = _serialized(method, target, self.origin.authority, headers, body)
        head_only = method == b"HEAD"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            if self._slots.locked():  # all in flight: waiting for a slot counts against the deadline
                async with asyncio.timeout_at(deadline):
                    await self._slots.acquire()
            else:
                await self._slots.acquire()
        except TimeoutError:
            raise TransportError("timeout", "no answer in time") from None
        try:
            connection = self._idle_connection()
            if connection is not None:
                try:
                    return await self._exchange(connection, data, head_only, deadline)
                except TransportError as exc:  # closed while idle: once more on a new connection, if safe
                    if exc.kind != "closed" or method not in SAFE_METHODS:
                        raise
            return await self._exchange(await self._connect(deadline), data, head_only, deadline)
        finally:
            self._slots.release()

    async def _exchange(self, connection: _Connection, data: bytes, head_only: bool, deadline: float) -> Answer:
        """One exchange on `connection`; a timer (cheaper than a timeout context on every request) fails it
        at the deadline."""
        timer = asyncio.get_running_loop().call_at(deadline, connection.time_out)
        try:
            answer = await connection.exchange(data, head_only)
        except BaseException:
            connection.close()
            raise
        finally:
            timer.cancel()
        if connection.reusable and len(self._idle) < KEEP_IDLE:
            self._idle.append(connection)
        else:
            connection.close()
        return answer

    def _idle_connection(self) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()
            if connection.open:
                return connection
        return None

    async def _connect(self, deadline: float) -> _Connection:
        loop = asyncio.get_running_loop()
        origin = self.origin
        try:
            async with asyncio.timeout_at(deadline):
                _, connection = await loop.create_connection(
                    lambda: _Connection(self.max_body),
                    origin.host,
                    origin.port,
                    ssl=self._tls,
                    server_hostname=origin.host if self._tls else None,
                )
        except TimeoutError:
            raise TransportError("timeout", "no connection in time") from None
        except ssl.SSLError as exc:
            raise TransportError("refused", f"TLS failed ({exc.reason or exc.strerror or 'handshake'})") from None
        except OSError as exc:
            raise TransportError("refused", _connect_reason(exc)) from None
        return connection

    def close(self) -> None:
        while self._idle:
            self._idle.pop().close()


def _serialized(method: bytes, target: bytes, authority: bytes, headers: Headers, body: bytes) -> bytes:
    """The request on the wire. Names and values come from a request uvicorn's parser accepted (no CR or
    LF); the target is checked here as it is built from the client's path and the configured base."""
    if any(c in target for c in b" \r\n\t"):
        raise TransportError("malformed", "the request target cannot be forwarded")
    parts = [method, b" ", target, b" HTTP/1.1\r\nHost: ", authority, b"\r\n"]
    for name, value in headers:
        parts += (name, b": ", value, b"\r\n")
    if body or method in _BODY_METHODS:
        parts += (b"Content-Length: ", str(len(body)).encode(), b"\r\n")
    parts += (b"\r\n", body)
    return b"".join(parts)
