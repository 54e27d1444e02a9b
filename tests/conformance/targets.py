"""Targets an operator can point the suite at by mistake, each a real server on 127.0.0.1: tiny asyncio
servers scripted byte for byte (an SSH daemon, one that accepts and never answers, one that hangs up),
the mock behind TLS with a throwaway CA (trustme), and the suite's CLI run as a user runs it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import trustme

from mock_server import MockConfig, create_app
from mock_server.testing import serve_in_thread

ROOT = Path(__file__).resolve().parents[2]
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
# Variables a developer's shell may hold that would change what the CLI trusts or writes.
UNSET = ("SSL_CERT_FILE", "SSL_CERT_DIR", "BILLING_CA_CERT", "BILLING_INSECURE", "BILLING_CLIENT_CERT",
         "BILLING_CLIENT_KEY", "BILLING_JUNIT_XML", "BILLING_MIFUMO_URL", "BILLING_WEPAY_URL", "BILLING_API_VERSION",
         "BILLING_EXCLUDE_CHECK")  # fmt: skip


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    wall: float

    @property
    def error_lines(self) -> list[str]:
        return self.stderr.strip().splitlines()


def cli(*argv: str, env: dict[str, str] | None = None, timeout: float = 120) -> Run:
    """`billing-conformance ARGV` in a subprocess, as CI runs it; the suite's credentials come from the
    environment (the tests' autouse fixture sets the mock's), plus `env`."""
    environ = {k: v for k, v in os.environ.items() if k not in UNSET} | (env or {})
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "conformance.cli", *argv],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return Run(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


# --- scripted servers ----------------------------------------------------------------------------------


@contextlib.contextmanager
def raw_server(handle: Handler, ssl_context: ssl.SSLContext | None = None) -> Iterator[int]:
    """An asyncio server on 127.0.0.1 in a thread of its own, each connection given to `handle`; its port."""
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0, ssl=ssl_context))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def stop() -> None:
        server.close()
        for task in asyncio.all_tasks():
            if task is not asyncio.current_task():
                task.cancel()

    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


async def _until_closed(reader: asyncio.StreamReader) -> None:
    with contextlib.suppress(ConnectionError):
        while await reader.read(65536):
            pass


async def ssh_daemon(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """What sshd does: its banner first, then, given anything but an SSH identification, a complaint."""
    with contextlib.suppress(ConnectionError):
        writer.write(b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5\r\n")
        await writer.drain()
        line = await reader.readline()
        if not line.startswith(b"SSH-"):
            writer.write(b"Invalid SSH identification string.\r\n")
            await writer.drain()
    writer.close()


async def never_answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accepts, reads whatever comes, answers nothing, until the client gives up."""
    await _until_closed(reader)
    writer.close()


async def hangs_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Reads the request (its head, or whatever comes before the client stops) and closes the connection
    without a byte of answer."""
    with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
        await reader.readuntil(b"\r\n\r\n")
    writer.close()


# --- TLS -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    """A throwaway CA, the server's certificate for 127.0.0.1, and a client certificate, as PEM files."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    client_combined: Path  # the client's key and certificate in one file
    stranger_ca: Path  # another CA, which trusts nothing here


def make_pki(folder: Path) -> Pki:
    ca, stranger = trustme.CA(), trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("billing-conformance.ci.example")
    paths = Pki(*(folder / name for name in ("ca.pem", "server.pem", "server.key", "client.pem", "client.key",
                                             "client-combined.pem", "stranger-ca.pem")))  # fmt: skip
    ca.cert_pem.write_to_path(paths.ca)
    server.cert_chain_pems[0].write_to_path(paths.server_cert)
    server.private_key_pem.write_to_path(paths.server_key)
    client.cert_chain_pems[0].write_to_path(paths.client_cert)
    client.private_key_pem.write_to_path(paths.client_key)
    client.private_key_and_cert_chain_pem.write_to_path(paths.client_combined)
    stranger.cert_pem.write_to_path(paths.stranger_ca)
    return paths


@contextlib.contextmanager
def tls_mock(pki: Pki, mutual: bool = False) -> Iterator[str]:
    """The default mock served over TLS with `pki`'s server certificate (asking for a client certificate
    its CA issued, with `mutual`); its https:// base URL."""
    options: dict[str, object] = {"ssl_certfile": str(pki.server_cert), "ssl_keyfile": str(pki.server_key)}
    if mutual:
        options |= {"ssl_ca_certs": str(pki.ca), "ssl_cert_reqs": ssl.CERT_REQUIRED}
    with serve_in_thread(create_app(MockConfig()), **options) as url:
        yield url.replace("http://", "https://", 1)


@contextlib.contextmanager
def plain_mock() -> Iterator[str]:
    with serve_in_thread(create_app(MockConfig())) as url:
        yield url
