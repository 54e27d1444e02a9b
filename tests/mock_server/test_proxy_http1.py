"""The validating proxy's HTTP/1.1 client (mock_server/proxy/http1.py), against servers that send exact bytes.

The client is our own code, not a library's: what it decides itself (keep-alive reuse, which answers have no
body, interim answers skipped, a body delimited by the connection closing, the one retry of a safe request
on a connection the upstream closed while idle, the cap, the deadline, the request it writes, TLS) is
pinned here, each over a real socket on 127.0.0.1 to a raw asyncio server scripted byte for byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme

from mock_server.proxy.http1 import MAX_HEADER_BYTES, Answer, Http1Client, Origin, TransportError

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
LIMIT = 5.0  # no test runs longer than this, whatever the client does


@dataclass
class Server:
    """What a scripted server saw: connections accepted, requests read (raw bytes), connections ended by EOF."""

    port: int = 0
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    eofs: int = 0


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, Server, int], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader, server: Server) -> bytes | None:
    """One whole request (head and Content-Length body), recorded; None at EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        server.eofs += 1
        return None
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    request = head + await reader.readexactly(length)
    server.requests.append(request)
    return request


def replying(answer: bytes) -> Handler:
    """A keep-alive server: every request answered with the same bytes."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server, n: int) -> None:
        while await read_request(reader, server) is not None:
            writer.write(answer)
            await writer.drain()

    return handle


def answering_once(answer: bytes) -> Handler:
    """One answer, then the server closes the connection."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server, n: int) -> None:
        await read_request(reader, server)
        writer.write(answer)
        await writer.drain()

    return handle


@contextlib.asynccontextmanager
async def serving(handler: Handler, tls: ssl.SSLContext | None = None) -> AsyncIterator[Server]:
    """A raw asyncio server on 127.0.0.1 running `handler` on each connection; at the end its connections are
    closed (a handler waiting to read sees EOF) and any handler still running after a second is cancelled."""
    server = Server()
    handlers: dict[asyncio.Task[Any], asyncio.StreamWriter] = {}

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handlers[asyncio.current_task()] = writer  # type: ignore[index]
        server.connections += 1
        try:
            await handler(reader, writer, server, server.connections)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    listener = await asyncio.start_server(on_connection, "127.0.0.1", 0, ssl=tls)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()
        for writer in handlers.values():
            writer.close()
        if handlers:
            _, running = await asyncio.wait(handlers, timeout=1.0)
            for task in running:
                task.cancel()


def client_for(server: Server, max_body: int = 1 << 20, scheme: str = "http") -> Http1Client:
    return Http1Client(Origin.of(scheme, "127.0.0.1", server.port), max_body)


async def get(client: Http1Client, target: bytes = b"/", method: bytes = b"GET", timeout: float = 2.0) -> Answer:
    return await client.request(method, target, [], b"", timeout)


async def failure(request: Awaitable[Answer]) -> TransportError:
    with pytest.raises(TransportError) as caught:
        await request
    return caught.value


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), LIMIT))


# -- keep-alive ----------------------------------------------------------------------------------------------


def test_sequential_requests_share_one_connection() -> None:
    async def test() -> None:
        async with serving(replying(OK)) as server:
            client = client_for(server)
            answers = [await get(client, f"/{i}".encode()) for i in range(5)]
            assert [(a.status, a.body) for a in answers] == [(200, b"ok")] * 5
            assert server.connections == 1
            assert len(server.requests) == 5
            client.close()

    run(test)


def test_an_answer_with_connection_close_is_not_reused() -> None:
    closing = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"

    async def test() -> None:
        async with serving(replying(closing)) as server:
            client = client_for(server)
            for _ in range(3):
                assert (await get(client)).body == b"ok"
            assert server.connections == 3

    run(test)


def test_bytes_after_a_complete_answer_make_the_connection_unusable() -> None:
    async def talkative(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server, n: int) -> None:
        while await read_request(reader, server) is not None:
            writer.write(OK)
            await writer.drain()
            if n == 1:
                await asyncio.sleep(0.05)
                writer.write(b"unasked")

    async def test() -> None:
        async with serving(talkative) as server:
            client = client_for(server)
            assert (await get(client)).body == b"ok"
            await asyncio.sleep(0.2)
            assert (await get(client)).body == b"ok"
            assert server.connections == 2

    run(test)


@pytest.mark.parametrize(
    "extra",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nWRONG",  # a whole second answer
        b"HTTP/1.1 200 OK\r\nX-Smuggled: 1\r\nContent-Length: 5\r\n\r\nWR",  # the start of one
    ],
    ids=["whole", "partial"],
)
def test_a_second_answer_in_the_same_segment_is_never_given_to_the_next_request(extra: bytes) -> None:
    """An upstream out of step (an answer nobody asked for, in the same write as the real one) must not hand
    its extra answer, or part of it, to the next request: the connection is dropped, the first answer kept whole."""

    async def test() -> None:
        async with serving(replying(OK + extra)) as server:
            client = client_for(server)
            first = await get(client)
            assert (first.status, first.body, first.headers) == (200, b"ok", [(b"Content-Length", b"2")])
            second = await get(client)
            assert (second.body, second.headers) == (b"ok", [(b"Content-Length", b"2")])
            assert server.connections == 2

    run(test)


# -- which answers have a body ----------------------------------------------------------------------------


def test_head_answer_ends_at_its_headers_and_the_connection_is_not_reused() -> None:
    head_answer = b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nContent-Type: text/plain\r\n\r\n"

    async def test() -> None:
        async with serving(replying(head_answer)) as server:
            client = client_for(server)
            started = time.monotonic()
            answer = await get(client, method=b"HEAD", timeout=3.0)
            assert time.monotonic() - started < 1.0
            assert (answer.status, answer.body) == (200, b"")
            assert (b"Content-Length", b"1234") in answer.headers
            await get(client, method=b"HEAD", timeout=3.0)
            assert server.connections == 2
            for _ in range(100):  # the server sees the client's close (EOF) without answering more
                if server.eofs == 2:
                    break
                await asyncio.sleep(0.01)
            assert server.eofs == 2

    run(test)


def test_interim_1xx_answers_are_skipped() -> None:
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
    final = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Final: yes\r\n\r\nfinal"

    async def in_pieces(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server, n: int) -> None:
        while await read_request(reader, server) is not None:
            writer.write(interim)
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.write(final)
            await writer.drain()

    async def test() -> None:
        for handler in (replying(interim + final), in_pieces):
            async with serving(handler) as server:
                client = client_for(server)
                for method in (b"GET", b"GET", b"HEAD"):
                    answer = await get(client, method=method)
                    assert answer.status == 200
                    assert answer.headers[-1] == (b"X-Final", b"yes")
                    assert all(name != b"Link" for name, _ in answer.headers)
                    assert answer.body == (b"" if method == b"HEAD" else b"final")
                assert server.connections == 1  # the GETs shared one; the HEAD then closed it

    run(test)


def test_a_body_without_length_ends_when_the_server_closes() -> None:
    async def then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server, n: int) -> None:
        await read_request(reader, server)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst part, ")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"second part")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.close()

    async def test() -> None:
        async with serving(then_close) as server:
            client = client_for(server)
            answer = await get(client)
            assert (answer.status, answer.body) == (200, b"first part, second part")
            assert (await get(client)).body == b"first part, second part"
            assert server.connections == 2

    run(test)


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\n',
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n",
    ],
)
def test_204_and_304_have_no_body_and_do_not_wait_for_one(answer: bytes) -> None:
    async def test() -> None:
        async with serving(replying(answer)) as server:  # the server keeps the connection open
            client = client_for(server)
            started = time.monotonic()
            for _ in range(3):
                reply = await get(client, timeout=3.0)
                assert reply.status == int(answer[9:12])
                assert reply.body == b""
            assert time.monotonic() - started < 1.0
            assert server.connections == 1

    run(test)


def test_chunked_answers_are_reassembled() -> None:
    pieces = [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
        b"lo\r\n",
        b"7;ext=1\r\n, world\r\n",
        b"0\r\nX-Trailer: t\r\n\r\n",
    ]

    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server, n: int) -> None:
        while await read_request(reader, server) is not None:
            for piece in pieces:
                writer.write(piece)
                await writer.drain()
                await asyncio.sleep(0.02)

    async def test() -> None:
        async with serving(chunked) as server:
            client = client_for(server)
            for _ in range(2):
                answer = await get(client)
                assert (answer.status, answer.body) == (200, b"hello, world")
            assert server.connections == 1

    run(test)


# -- a reused connection the server closed ----------------------------------------------------------------


def closing_after_first() -> Handler:
    """The first connection answers once, then takes the next request and closes without answering (the
    server closed it while idle, as the client was sending); later connections answer everything."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server, n: int) -> None:
        if n > 1:
            return await replying(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh")(reader, writer, server, n)
        await read_request(reader, server)
        writer.write(OK)
        await writer.drain()
        await read_request(reader, server)

    return handle


def test_a_safe_request_on_a_closed_reused_connection_is_retried_once() -> None:
    async def test() -> None:
        async with serving(closing_after_first()) as server:
            client = client_for(server)
            assert (await get(client)).body == b"ok"
            assert (await get(client, b"/again")).body == b"fresh"
            assert server.connections == 2
            assert [r.split(b" ")[1] for r in server.requests] == [b"/", b"/again", b"/again"]

    run(test)


def test_a_post_on_a_closed_reused_connection_is_not_retried() -> None:
    async def test() -> None:
        async with serving(closing_after_first()) as server:
            client = client_for(server)
            assert (await get(client)).body == b"ok"
            error = await failure(client.request(b"POST", b"/pay", [], b'{"amount": 1}', 2.0))
            assert error.kind == "closed"
            assert server.connections == 1
            assert len(server.requests) == 2

    run(test)


def test_a_connection_noticed_closed_while_idle_is_not_used() -> None:
    async def test() -> None:
        async with serving(answering_once(OK)) as server:
            client = client_for(server)
            assert (await get(client)).body == b"ok"
            await asyncio.sleep(0.1)  # the server's close reaches the client
            answer = await client.request(b"POST", b"/pay", [], b"{}", 2.0)
            assert answer.body == b"ok"
            assert server.connections == 2

    run(test)


# -- no answer --------------------------------------------------------------------------------------------


def test_a_server_that_never_answers_times_out_and_the_connection_is_closed() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server, n: int) -> None:
        await read_request(reader, server)
        await read_request(reader, server)  # returns at the client's EOF

    async def test() -> None:
        async with serving(silent) as server:
            client = client_for(server)
            started = time.monotonic()
            error = await failure(get(client, timeout=0.3))
            elapsed = time.monotonic() - started
            assert error.kind == "timeout"
            assert 0.29 <= elapsed < 1.0
            for _ in range(100):
                if server.eofs == 1:
                    break
                await asyncio.sleep(0.01)
            assert server.eofs == 1
            assert len(server.requests) == 1

    run(test)


def test_a_refused_connection() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    async def test() -> None:
        client = Http1Client(Origin.of("http", "127.0.0.1", port), 1024)
        error = await failure(get(client))
        assert error.kind == "refused"
        assert "connection refused or failed" in error.message

    run(test)


@pytest.mark.parametrize(
    ("over", "at_cap"),
    [
        (b"Content-Length: 11\r\n\r\n0123456789A", b"Content-Length: 10\r\n\r\n0123456789"),
        (
            b"Transfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n5\r\n6789A\r\n0\r\n\r\n",
            b"Transfer-Encoding: chunked\r\n\r\n6\r\n012345\r\n4\r\n6789\r\n0\r\n\r\n",
        ),
        (b"\r\n0123456789A", b"\r\n0123456789"),
    ],
    ids=["content-length", "chunked", "until-close"],
)
def test_an_answer_over_the_cap_is_too_large(over: bytes, at_cap: bytes) -> None:
    async def test() -> None:
        async with serving(answering_once(b"HTTP/1.1 200 OK\r\n" + over)) as server:
            error = await failure(get(client_for(server, max_body=10)))
            assert error.kind == "too-large"
            assert "10 bytes" in error.message
        async with serving(answering_once(b"HTTP/1.1 200 OK\r\n" + at_cap)) as server:
            assert (await get(client_for(server, max_body=10))).body == b"0123456789"

    run(test)


def test_an_answer_whose_headers_exceed_their_cap_is_too_large() -> None:
    """The body cap alone would let an upstream send headers without end; they have their own cap."""
    header = b"X-Filler: " + b"y" * 1000 + b"\r\n"
    many = header * (MAX_HEADER_BYTES // len(header) + 2)

    async def test() -> None:
        async with serving(answering_once(b"HTTP/1.1 200 OK\r\n" + many + b"Content-Length: 2\r\n\r\nok")) as server:
            error = await failure(get(client_for(server)))
            assert error.kind == "too-large"
            assert f"{MAX_HEADER_BYTES} bytes" in error.message
        fewer = header * (MAX_HEADER_BYTES // len(header) - 2)
        async with serving(answering_once(b"HTTP/1.1 200 OK\r\n" + fewer + b"Content-Length: 2\r\n\r\nok")) as server:
            assert (await get(client_for(server))).body == b"ok"

    run(test)


@pytest.mark.parametrize("garbage", [b"SSH-2.0-OpenSSH_9.6\r\n", b"HTTP/1.1 abc OK\r\n\r\n", b"\x16\x03\x01\x02\x00"])
def test_garbage_is_not_valid_http(garbage: bytes) -> None:
    async def test() -> None:
        async with serving(replying(garbage)) as server:
            error = await failure(get(client_for(server)))
            assert error.kind == "malformed"
            assert "not valid HTTP" in error.message

    run(test)


@pytest.mark.parametrize(
    "partial",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        b"HTTP/1.1 200 OK\r\nContent-Le",
    ],
    ids=["content-length", "chunked", "headers"],
)
def test_a_connection_closed_mid_answer_is_malformed(partial: bytes) -> None:
    async def test() -> None:
        async with serving(answering_once(partial)) as server:
            error = await failure(get(client_for(server)))
            assert error.kind == "malformed"
            assert "closed early" in error.message

    run(test)


# -- the request on the wire ------------------------------------------------------------------------------


def test_the_request_on_the_wire() -> None:
    headers = [(b"X-Request-Id", b"r-1"), (b"accept", b"application/json"), (b"X-Request-Id", b"r-2")]

    async def test() -> None:
        async with serving(replying(OK)) as server:
            client = client_for(server)
            host = f"Host: 127.0.0.1:{server.port}\r\n".encode()
            await client.request(b"GET", b"/api/x?a=1&b=%20", headers, b"", 2.0)
            await client.request(b"POST", b"/pay", [], b"", 2.0)
            await client.request(b"PUT", b"/p", [(b"Content-Type", b"text/plain")], b"body", 2.0)
            await client.request(b"PATCH", b"/p", [], b"", 2.0)
            await client.request(b"DELETE", b"/d", [], b"x", 2.0)
            await client.request(b"DELETE", b"/d", [], b"", 2.0)
            await client.request(b"OPTIONS", b"*", [], b"", 2.0)
            assert server.requests == [
                b"GET /api/x?a=1&b=%20 HTTP/1.1\r\n" + host + b"X-Request-Id: r-1\r\naccept: application/json\r\n"
                b"X-Request-Id: r-2\r\n\r\n",
                b"POST /pay HTTP/1.1\r\n" + host + b"Content-Length: 0\r\n\r\n",
                b"PUT /p HTTP/1.1\r\n" + host + b"Content-Type: text/plain\r\nContent-Length: 4\r\n\r\nbody",
                b"PATCH /p HTTP/1.1\r\n" + host + b"Content-Length: 0\r\n\r\n",
                b"DELETE /d HTTP/1.1\r\n" + host + b"Content-Length: 1\r\n\r\nx",
                b"DELETE /d HTTP/1.1\r\n" + host + b"\r\n",
                b"OPTIONS * HTTP/1.1\r\n" + host + b"\r\n",
            ]

    run(test)


def test_the_host_header_omits_a_default_port() -> None:
    assert Origin.of("http", "api.example", 80).authority == b"api.example"
    assert Origin.of("http", "api.example", None).authority == b"api.example"
    assert Origin.of("https", "api.example", 443).authority == b"api.example"
    assert Origin.of("https", "api.example", 80).authority == b"api.example:80"
    assert Origin.of("http", "::1", 8080).authority == b"[::1]:8080"


@pytest.mark.parametrize("target", [b"/a b", b"/a\r\nX-Injected: 1", b"/a\nb", b"/a\rb", b"/a\tb"])
def test_a_target_that_cannot_be_forwarded_is_refused_and_nothing_is_sent(target: bytes) -> None:
    async def test() -> None:
        async with serving(replying(OK)) as server:
            client = client_for(server)
            error = await failure(get(client, target))  # no connection yet: none is made
            assert error.kind == "malformed"
            assert server.connections == 0
            await get(client)
            error = await failure(get(client, target))  # an idle connection: nothing written on it
            assert error.kind == "malformed"
            assert (await get(client, b"/after")).body == b"ok"
            assert [r.split(b" ")[1] for r in server.requests] == [b"/", b"/after"]
            assert server.connections == 1

    run(test)


# -- concurrency ------------------------------------------------------------------------------------------


def test_concurrent_requests_each_get_their_own_answer() -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, server: Server, n: int) -> None:
        while (request := await read_request(reader, server)) is not None:
            target = request.split(b" ")[1]
            body = target + b" " + request.partition(b"\r\n\r\n")[2]
            await asyncio.sleep(random.uniform(0, 0.02))
            head = b"HTTP/1.1 200 OK\r\nX-Target: " + target + b"\r\nContent-Length: " + str(len(body)).encode()
            writer.write(head + b"\r\n\r\n" + body)
            await writer.drain()

    async def test() -> None:
        async with serving(echo) as server:
            client = client_for(server)
            for _ in range(2):  # fresh connections, then the idle ones reused
                answers = await asyncio.gather(
                    *(client.request(b"POST", f"/r/{i}".encode(), [], f"body-{i}".encode(), 3.0) for i in range(32))
                )
                for i, answer in enumerate(answers):
                    assert answer.body == f"/r/{i} body-{i}".encode()
                    assert (b"X-Target", f"/r/{i}".encode()) in answer.headers
            assert 1 <= server.connections <= 32
            assert len(server.requests) == 64

    run(test)


# -- TLS --------------------------------------------------------------------------------------------------


def tls_server_context(ca: trustme.CA, name: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(context)
    return context


def test_https_with_a_trusted_ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))  # before the client makes its context

    async def test() -> None:
        async with serving(replying(OK), tls=tls_server_context(ca, "127.0.0.1")) as server:
            client = client_for(server, scheme="https")
            for _ in range(3):
                assert (await get(client)).body == b"ok"
            assert server.connections == 1
            assert server.requests[0].startswith(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n".encode())

    run(test)


@pytest.mark.parametrize("case", ["unknown CA", "other name"])
def test_https_with_an_untrusted_certificate_is_refused(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trusted = trustme.CA()
    trusted.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    server_context = (
        tls_server_context(trustme.CA(), "127.0.0.1") if case == "unknown CA" else tls_server_context(trusted, "other")
    )

    async def test() -> None:
        async with serving(replying(OK), tls=server_context) as server:
            error = await failure(get(client_for(server, scheme="https")))
            assert error.kind == "refused"
            assert "TLS" in error.message
            assert server.requests == []

    run(test)
