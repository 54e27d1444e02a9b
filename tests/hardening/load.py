"""Load the mock over keep-alive HTTP/1.1 and watch its memory; then SIGTERM it under load.

    python -m tests.hardening.load                        # 60 s, 64 connections, then the SIGTERM run
    python -m tests.hardening.load --duration 5 --connections 32 --no-sigterm

Starts its own `billing-mock` subprocess on a free 127.0.0.1 port. The load is a fixed mix of
requests over both APIs (pages, filters, cursors, single statements, 4xx answers), each with the
status it must get: anything else, a 5xx, a broken connection or a timeout is an error. Resident
memory (VmRSS of the server process) is read after the warm-up and at the end.

The run is bounded by `--duration` and by `--max-requests`, so it always stops by itself.
Exit status 0 when every criterion holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mock_server.testing import free_port

ROOT = Path(__file__).resolve().parents[2]
READ_TIMEOUT = 10.0
MAX_RSS_GROWTH = 0.10


@dataclass(frozen=True)
class Probe:
    """One request of the mix: its bytes on the wire and the status it must get."""

    name: str
    raw: bytes
    status: int


@dataclass
class LoadResult:
    requests: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    elapsed: float = 0.0
    rss_after_warmup_kib: int = 0
    rss_end_kib: int = 0
    latency_ms_max: float = 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def rss_growth(self) -> float:
        return (self.rss_end_kib - self.rss_after_warmup_kib) / max(1, self.rss_after_warmup_kib)

    @property
    def ok(self) -> bool:
        return self.requests > 0 and self.error_count == 0 and self.rss_growth < MAX_RSS_GROWTH

    def summary(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "errors": dict(self.errors),
            "statuses": dict(self.statuses),
            "elapsed_s": round(self.elapsed, 2),
            "rps": round(self.requests / max(self.elapsed, 1e-9)),
            "rss_after_warmup_kib": self.rss_after_warmup_kib,
            "rss_end_kib": self.rss_end_kib,
            "rss_growth_pct": round(100 * self.rss_growth, 2),
            "latency_ms_max": round(self.latency_ms_max, 1),
        }


@dataclass
class SigtermResult:
    exit_code: int | None = None
    shutdown_s: float = 0.0
    completed_before: int = 0
    completed_after: int = 0  # full responses read after the signal was sent: in-flight ones finished
    truncated: int = 0  # responses cut off midway: must be 0
    bad_status: int = 0  # 5xx or unexpected status: must be 0
    closed_cleanly: int = 0  # connections closed or refused before any response byte: expected

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.truncated == 0 and self.bad_status == 0

    def summary(self) -> dict[str, object]:
        return {**asdict(self), "shutdown_s": round(self.shutdown_s, 2)}


# -- the server --------------------------------------------------------------------------------------


@contextlib.contextmanager
def billing_mock(port: int, *args: str, log: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """`billing-mock` on 127.0.0.1:`port`, ready to serve; killed on exit if still running."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLING_MOCK_")}
    command = [sys.executable, "-m", "mock_server.cli", "--port", str(port), "--log-level", "warning", *args]
    with contextlib.ExitStack() as stack:
        sink = stack.enter_context(log.open("wb")) if log else subprocess.DEVNULL
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=sink, stderr=sink)
        try:
            wait_ready(port, process)
            yield process
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


def wait_ready(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"billing-mock exited with {process.returncode}")
        try:
            status, _ = fetch(port, b"GET /__mock/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            if status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("billing-mock did not become ready")


def fetch(port: int, raw: bytes) -> tuple[int, bytes]:
    """One blocking request on its own connection (`Connection: close`): status and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=READ_TIMEOUT) as sock:
        sock.sendall(raw)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


# -- the request mix ---------------------------------------------------------------------------------


def _request(target: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {target} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def request_mix(port: int, bearer: str, app_id: str, app_token: str) -> list[Probe]:
    mifumo = {"Authorization": f"Bearer {bearer}"}
    wepay = {"App-Id": app_id, "App-Token": app_token, "Api-Version": "3.0"}
    _, body = fetch(port, _request("/billing_statements?page_size=5", {**wepay, "Connection": "close"}))
    listing = json.loads(body)
    statement_id = listing["results"][0]["id"]
    probes = [
        Probe("mifumo-page", _request("/api/billing/history/?page=2&page_size=20", mifumo), 200),
        Probe("mifumo-filter", _request("/api/billing/history/?type=usage&page_size=50", mifumo), 200),
        Probe("mifumo-first", _request("/api/billing/history/", mifumo), 200),
        Probe("mifumo-past-end", _request("/api/billing/history/?page=999", mifumo), 404),
        Probe("mifumo-bad-param", _request("/api/billing/history/?type=refund", mifumo), 400),
        Probe("mifumo-no-auth", _request("/api/billing/history/", {}), 401),
        Probe("wepay-list", _request("/billing_statements?page_size=20", wepay), 200),
        Probe("wepay-cursor", _request(listing["next"], {**wepay, "Api-Version": "3.2"}), 200),
        Probe("wepay-one", _request(f"/billing_statements/{statement_id}", wepay), 200),
        Probe("wepay-missing", _request(f"/billing_statements/{uuid.uuid4()}", wepay), 404),
        Probe("wepay-bad-param", _request("/billing_statements?page_size=0", wepay), 400),
        Probe("wepay-bad-token", _request("/billing_statements", {**wepay, "App-Token": "wrong"}), 403),
    ]
    # a spread of deep pages and random ids, so caches and paths see more than one shape
    probes += [
        Probe("mifumo-deep", _request(f"/api/billing/history/?page={p}&page_size=10", mifumo), 200)
        for p in range(1, 26)
    ]
    return probes


# -- the load ----------------------------------------------------------------------------------------


class Truncated(Exception):
    """The server closed the connection in the middle of a response."""


class ClosedBeforeResponse(Exception):
    """The connection closed before any byte of the response: the request was never taken."""


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """One response: its status and whether the server will close the connection after it."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        raise (Truncated if exc.partial else ClosedBeforeResponse)() from None
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    try:
        await reader.readexactly(int(headers.get("content-length", "0")))
    except asyncio.IncompleteReadError:
        raise Truncated() from None
    return status, headers.get("connection", "").lower() == "close"


class Load:
    """`connections` keep-alive clients cycling through the mix until the deadline or the request cap."""

    def __init__(self, port: int, probes: list[Probe], connections: int, max_requests: int) -> None:
        self.port = port
        self.probes = probes
        self.connections = connections
        self.max_requests = max_requests
        self.result = LoadResult()
        self.sigterm = SigtermResult()
        self.signalled_at: float | None = None
        self.stop = asyncio.Event()

    async def run(self, duration: float) -> None:
        workers = [asyncio.create_task(self.worker(i)) for i in range(self.connections)]
        started = time.monotonic()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), duration)
        self.stop.set()
        await asyncio.gather(*workers)
        self.result.elapsed = time.monotonic() - started

    async def worker(self, index: int) -> None:
        turn = index
        writer: asyncio.StreamWriter | None = None
        while not self.stop.is_set():
            if self.result.requests >= self.max_requests:
                self.stop.set()
                break
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                probe = self.probes[turn % len(self.probes)]
                turn += self.connections
                started = time.monotonic()
                writer.write(probe.raw)
                status, closing = await asyncio.wait_for(read_response(reader), READ_TIMEOUT)
                self.record(probe, status, time.monotonic() - started)
                if closing:
                    writer.close()
                    writer = None
            except (ClosedBeforeResponse, ConnectionError) as exc:
                writer = self.fail("closed" if isinstance(exc, ClosedBeforeResponse) else type(exc).__name__, writer)
            except Truncated:
                writer = self.fail("truncated", writer)
            except TimeoutError:
                writer = self.fail("timeout", writer)
        if writer is not None:
            writer.close()

    def record(self, probe: Probe, status: int, latency: float) -> None:
        result = self.result
        result.requests += 1
        result.statuses[status] += 1
        result.latency_ms_max = max(result.latency_ms_max, latency * 1000)
        if status != probe.status:
            result.errors[f"{probe.name}: {status} (expected {probe.status})"] += 1
            self.sigterm.bad_status += self.signalled_at is not None
        elif self.signalled_at is not None:
            self.sigterm.completed_after += 1
        else:
            self.sigterm.completed_before += 1

    def fail(self, kind: str, writer: asyncio.StreamWriter | None) -> None:
        if writer is not None:
            writer.close()
        if self.signalled_at is None:
            self.result.errors[kind] += 1
        elif kind == "truncated":
            self.sigterm.truncated += 1
        elif kind == "timeout":
            self.sigterm.bad_status += 1
        else:  # after SIGTERM, a closed or refused connection is the server declining new work
            self.sigterm.closed_cleanly += 1
        return None


async def _load(
    port: int, pid: int, probes: list[Probe], duration: float, connections: int, warmup: float, max_requests: int
) -> LoadResult:
    load = Load(port, probes, connections, max_requests)

    async def sample() -> None:
        await asyncio.sleep(warmup)
        load.result.rss_after_warmup_kib = rss_kib(pid)

    sampler = asyncio.create_task(sample())
    await load.run(duration)
    await sampler
    load.result.rss_end_kib = rss_kib(pid)
    return load.result


def run_load(
    port: int,
    pid: int,
    probes: list[Probe],
    duration: float = 60,
    connections: int = 64,
    warmup: float | None = None,
    max_requests: int = 5_000_000,
) -> LoadResult:
    warmup = min(10.0, duration / 5) if warmup is None else warmup
    return asyncio.run(_load(port, pid, probes, duration, connections, warmup, max_requests))


async def _sigterm(
    process: subprocess.Popen[bytes], port: int, probes: list[Probe], connections: int, before: float, grace: float
) -> SigtermResult:
    load = Load(port, probes, connections, max_requests=10_000_000)
    runner = asyncio.create_task(load.run(before + grace + 5))
    await asyncio.sleep(before)
    load.signalled_at = time.monotonic()
    process.send_signal(signal.SIGTERM)
    deadline = load.signalled_at + grace
    while process.poll() is None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    load.sigterm.shutdown_s = time.monotonic() - load.signalled_at
    load.sigterm.exit_code = process.poll()
    load.stop.set()
    await runner
    load.sigterm.bad_status += load.result.error_count  # anything wrong before the signal counts too
    return load.sigterm


def sigterm_under_load(
    process: subprocess.Popen[bytes],
    port: int,
    probes: list[Probe],
    connections: int = 64,
    before: float = 2.0,
    grace: float = 15.0,
) -> SigtermResult:
    """Load the server, SIGTERM it mid-load, and see how it ends: exit status and every response."""
    return asyncio.run(_sigterm(process, port, probes, connections, before, grace))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--warmup", type=float, default=None, help="seconds before the first RSS reading")
    parser.add_argument("--max-requests", type=int, default=5_000_000)
    parser.add_argument("--no-sigterm", action="store_true", help="skip the SIGTERM-under-load run")
    args = parser.parse_args(argv)
    from mock_server.security import Credentials

    creds = Credentials()
    ok = True
    port = free_port()
    with billing_mock(port) as process:
        probes = request_mix(port, creds.bearer_token, creds.app_id, creds.app_token)
        result = run_load(port, process.pid, probes, args.duration, args.connections, args.warmup, args.max_requests)
    print(json.dumps({"load": result.summary(), "ok": result.ok}))
    ok &= result.ok
    if not args.no_sigterm:
        port = free_port()
        with billing_mock(port) as process:
            probes = request_mix(port, creds.bearer_token, creds.app_id, creds.app_token)
            outcome = sigterm_under_load(process, port, probes, args.connections)
        print(json.dumps({"sigterm": outcome.summary(), "ok": outcome.ok}))
        ok &= outcome.ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
