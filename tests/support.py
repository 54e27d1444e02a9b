"""What many tests share: the suite pointed at a mock with the mock's own credentials, and the mock
started as users start it, in a process of its own.

The suite has no default credentials (it checks real backends); tests give it the mock's, explicitly.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from conformance import SuiteConfig
from mock_server.security import Credentials
from mock_server.testing import free_port

MOCK_CREDENTIALS = Credentials()

# The suite's environment variables for the default mock's credentials (CLI subprocesses inherit them).
MOCK_SUITE_ENV = {
    "BILLING_BEARER_TOKEN": MOCK_CREDENTIALS.bearer_token,
    "BILLING_APP_ID": MOCK_CREDENTIALS.app_id,
    "BILLING_APP_TOKEN": MOCK_CREDENTIALS.app_token,
}


def suite_config(credentials: Credentials = MOCK_CREDENTIALS, **kwargs: Any) -> SuiteConfig:
    """A SuiteConfig carrying the mock's credentials (or the given ones) and the other fields as given."""
    return SuiteConfig(
        bearer_token=credentials.bearer_token, app_id=credentials.app_id, app_token=credentials.app_token, **kwargs
    )


@contextlib.contextmanager
def mock_process(*args: str, env: dict[str, str] | None = None, startup: float = 30) -> Iterator[str]:
    """`python -m mock_server.cli --port P *args` in its own process group, until healthy; yields its URL
    and stops the whole group (workers included) with SIGTERM at the end."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mock_server.cli", "--port", str(port), "--log-level", "warning", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/__mock/health", timeout=1).status_code == 200:
                    break
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            assert time.monotonic() < deadline, "mock did not start"
            time.sleep(0.1)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)


def raw_exchange(url: str, raw: bytes, timeout: float = 10.0) -> bytes:
    """Send `raw` bytes on a fresh connection to `url`'s host and port and read until the server closes
    it (a reset counts as a close); fails the test rather than wait past `timeout`."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    chunks = []
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(raw)
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass  # a clean refusal: the server dropped the connection
        except TimeoutError:
            pytest.fail(f"no answer within {timeout}s to {raw[:120]!r}")
    return b"".join(chunks)
