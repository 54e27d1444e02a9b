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
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
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


@dataclass
class SpawnedMock:
    """A `billing-mock` process: its URL (through loopback), and what it printed (readable at any time)."""

    url: str
    process: subprocess.Popen[bytes]
    output_dir: Path
    returncode: int | None = None  # once stopped

    def _read(self, name: str) -> str:
        return (self.output_dir / name).read_text(encoding="utf-8", errors="replace")

    @property
    def stdout(self) -> str:
        return self._read("stdout")

    @property
    def stderr(self) -> str:
        return self._read("stderr")


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without BILLING_MOCK_* variables (a developer's own would change the mock)."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("BILLING_MOCK_")}, **extra}


@contextlib.contextmanager
def mock_process(
    *args: str, env: dict[str, str] | None = None, host: str = "127.0.0.1", startup: float = 30
) -> Iterator[SpawnedMock]:
    """`python -m mock_server.cli --host H --port P --log-level warning *args` (later flags win) in its own
    process group, once healthy; SIGTERM to the whole group (workers included) at the end. Its output goes
    to files (a pipe would fill up under access logs), readable during and after the run."""
    port = free_port(host)
    output_dir = Path(tempfile.mkdtemp(prefix="billing-mock-output-"))
    command = [sys.executable, "-m", "mock_server.cli", "--host", host, "--port", str(port), "--log-level", "warning"]
    with (output_dir / "stdout").open("wb") as out, (output_dir / "stderr").open("wb") as err:
        process = subprocess.Popen(
            [*command, *args], stdout=out, stderr=err, start_new_session=True, env=clean_env() if env is None else env
        )
    spawned = SpawnedMock(f"http://127.0.0.1:{port}", process, output_dir)
    try:
        deadline = time.monotonic() + startup
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{spawned.url}/__mock/health", timeout=1).status_code == 200:
                    break
            assert process.poll() is None, f"billing-mock exited {process.returncode}: {spawned.stderr[-2000:]}"
            assert time.monotonic() < deadline, "billing-mock did not start"
            time.sleep(0.1)
        yield spawned
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            spawned.returncode = process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            spawned.returncode = process.wait(timeout=10)


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
