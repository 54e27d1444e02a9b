"""What the upstream receives from the validating proxy when a client's request is cut short, too large or
framed ambiguously. The client is a raw socket; the upstream is a scripted asyncio server that records every
byte it gets and answers each request it parses with `{}`.

A request whose body did not arrive whole is never forwarded (the upstream would get a shorter request
framed as complete); the request-smuggling defences (uvicorn's parser refusing a request the proxy could
frame differently from its client) are pinned: each such request is refused with 400 and the upstream
gets nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httptools
import httpx
import pytest

from billing_contract import MIFUMO, WEPAY
from fixtures import DatasetSize
from mock_server import MockConfig
from mock_server.proxy import ProxyConfig, create_proxy_app
from mock_server.proxy.app import MAX_REQUEST_BODY, UVICORN_OPTIONS
from mock_server.testing import serve_in_thread
from tests.support import MOCK_CREDENTIALS, raw_exchange

STATEMENTS = "/billing_statements"
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
WEPAY_HEAD = (
    f"Host: proxy.example\r\nApp-Id: {MOCK_CREDENTIALS.app_id}\r\nApp-Token: {MOCK_CREDENTIALS.app_token}\r\n"
    "Api-Version: 3.0\r\n"
)


@dataclass
class Received:
    method: bytes
    target: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes


@dataclass
class RecordingUpstream:
    """Every byte each connection brought (`streams`) and every request parsed from them (`requests`)."""

    streams: list[bytearray] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)

    def everything(self) -> bytes:
        return b"".join(bytes(stream) for stream in self.streams)

    def protocol(self) -> asyncio.Protocol:
        return _Recorder(self)


class _Recorder(asyncio.Protocol):
    """One upstream connection: httptools parses what arrives; each complete request is answered."""

    def __init__(self, upstream: RecordingUpstream) -> None:
        self.upstream = upstream
        self.raw = bytearray()
        upstream.streams.append(self.raw)
        self.parser = httptools.HttpRequestParser(self)
        self.target, self.headers, self.body = b"", [], b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.raw += data
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def on_message_begin(self) -> None:
        self.target, self.headers, self.body = b"", [], b""

    def on_url(self, url: bytes) -> None:
        self.target += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        method = self.parser.get_method()
        self.upstream.requests.append(Received(method, self.target, self.headers, self.body))
        self.transport.write(ANSWER)  # type: ignore[attr-defined]


@contextlib.contextmanager
def recording_upstream() -> Iterator[tuple[str, RecordingUpstream]]:
    """The scripted upstream on a free loopback port, its own event loop in a thread."""
    upstream = RecordingUpstream()
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(upstream.protocol, "127.0.0.1", 0))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", upstream
    finally:
        loop.call_soon_threadsafe(server.close)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@contextlib.contextmanager
def proxy_to_recorder() -> Iterator[tuple[str, RecordingUpstream]]:
    """The proxy (both APIs forwarded) in front of a recording upstream."""
    with recording_upstream() as (upstream_url, upstream):
        config = ProxyConfig(upstreams={MIFUMO: upstream_url, WEPAY: upstream_url}, mock=MockConfig(size=SMALL))
        with serve_in_thread(create_proxy_app(config), **UVICORN_OPTIONS) as url:
            yield url, upstream


SMALL = DatasetSize(records=5, statements=4, accounts=2)


def _complete_post(url: str, marker: bytes) -> bytes:
    """A POST whose body arrives whole, answered: a request the upstream must get, once."""
    head = f"POST {STATEMENTS} HTTP/1.1\r\n{WEPAY_HEAD}Content-Length: {len(marker)}\r\nConnection: close\r\n\r\n"
    return raw_exchange(url, head.encode() + marker)


def _wait_for(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.parametrize("how", ["close", "half-close"])
def test_a_body_cut_short_is_never_forwarded(how: str) -> None:
    """A client declares 100 bytes, sends 12 and closes (or shuts its sending side): the upstream gets
    nothing of it, while a whole request sent after it is forwarded, once and intact."""
    with proxy_to_recorder() as (url, upstream):
        parts = urlsplit(url)
        with socket.create_connection((parts.hostname, parts.port), timeout=10) as client:
            head = f"POST {STATEMENTS} HTTP/1.1\r\n{WEPAY_HEAD}Content-Length: 100\r\n\r\n"
            client.sendall(head.encode() + b"cut-short-12")
            time.sleep(0.2)  # the proxy has read the 12 bytes and waits for the rest
            if how == "half-close":
                client.shutdown(socket.SHUT_WR)
                assert client.recv(65536) == b""  # no answer: the connection just ends
        time.sleep(0.3)  # time for a forward that must not happen
        answer = _complete_post(url, b"whole-body")
        _wait_for(lambda: upstream.requests)
        time.sleep(0.2)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    assert [(r.method, r.target, r.body) for r in upstream.requests] == [(b"POST", STATEMENTS.encode(), b"whole-body")]
    assert b"cut-short" not in upstream.everything()


def test_a_body_over_the_cap_is_refused_413_and_not_forwarded() -> None:
    with proxy_to_recorder() as (url, upstream):
        headers = {"App-Id": MOCK_CREDENTIALS.app_id, "App-Token": MOCK_CREDENTIALS.app_token, "Api-Version": "3.0"}
        refused = httpx.post(url + STATEMENTS, headers=headers, content=b"x" * (MAX_REQUEST_BODY + 1), timeout=30)
        at_cap = httpx.post(url + STATEMENTS, headers=headers, content=b"y" * MAX_REQUEST_BODY, timeout=30)
        _wait_for(lambda: upstream.requests)
    assert refused.status_code == 413 and "exceeds" in refused.json()["detail"]
    assert at_cap.status_code == 200
    assert [len(r.body) for r in upstream.requests] == [MAX_REQUEST_BODY]  # only the one at the cap


# Requests a proxy and an upstream could frame differently, each with a request hidden in what one of them
# would take for a body. uvicorn's parser (llhttp) refuses each with 400, before the proxy sees it.
SMUGGLING = {
    "content-length-and-chunked": (
        f"POST {STATEMENTS} HTTP/1.1\r\n{WEPAY_HEAD}Content-Length: 48\r\nTransfer-Encoding: chunked\r\n\r\n"
        "0\r\n\r\nGET /billing_statements/smuggled HTTP/1.1\r\nX: y\r\n\r\n"
    ),
    "two-content-lengths": (
        f"POST {STATEMENTS} HTTP/1.1\r\n{WEPAY_HEAD}Content-Length: 0\r\nContent-Length: 46\r\n\r\n"
        "GET /billing_statements/smuggled HTTP/1.1\r\n\r\n"
    ),
    "obs-fold": (
        f"GET {STATEMENTS} HTTP/1.1\r\n{WEPAY_HEAD}X-Folded: a\r\n Transfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\n"
    ),
    "bare-lf": (
        f"GET {STATEMENTS} HTTP/1.1\n{WEPAY_HEAD.replace(chr(13), '')}Content-Length: 46\n\n"
        "GET /billing_statements/smuggled HTTP/1.1\r\n\r\n"
    ),
}


@pytest.mark.parametrize("raw", SMUGGLING.values(), ids=SMUGGLING.keys())
def test_ambiguously_framed_requests_are_refused_and_nothing_reaches_the_upstream(raw: str) -> None:
    with proxy_to_recorder() as (url, upstream):
        answer = raw_exchange(url, raw.encode())
        time.sleep(0.3)  # time for a forward that must not happen
        control = _complete_post(url, b"after")
        _wait_for(lambda: upstream.requests)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert control.startswith(b"HTTP/1.1 200 ")
    assert [r.body for r in upstream.requests] == [b"after"]
    assert b"smuggled" not in upstream.everything()
