"""Start the DRF reference for a test, in a process of its own, and always stop it.

    with running_drf_reference(time_zone="Africa/Dar_es_Salaam", type_filter="filterset") as drf:
        httpx.get(f"{drf.url}/api/billing/history/", headers={"Authorization": f"Bearer {drf.token}"})
        drf.requests()  # what it served, from its request log

A process per configuration because Django's settings are process-global. It is started as
`tests.support.mock_process` starts the mock: in its own session (process group), its output in files,
SIGTERM to the whole group at the end and SIGKILL if that is not enough.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from fixtures import DEFAULT_SEED
from mock_server.testing import free_port

REPOSITORY = Path(__file__).resolve().parents[2]
HISTORY_PATH = "/api/billing/history/"


@dataclass
class Reference:
    """A running reference: its base URL, simplejwt tokens, and what it has logged."""

    url: str
    token: str
    expired_token: str
    records: int
    process: subprocess.Popen[bytes]
    output_dir: Path
    log_path: Path
    # Log lines written before the test got the reference (the readiness probe): not the test's requests.
    _skip: int = field(default=0, repr=False)

    @property
    def headers(self) -> dict[str, str]:
        """The `Authorization` header with the valid token, as a client of the service sends it."""
        return {"Authorization": f"Bearer {self.token}"}

    def requests(self) -> list[dict[str, Any]]:
        """Every request served since start-up, in order: `{"method", "path", "query", "status"}`."""
        if not self.log_path.exists():
            return []
        lines = self.log_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines[self._skip :] if line]

    @property
    def stderr(self) -> str:
        """What the process wrote to stderr (Django's server-error log, uvicorn's warnings)."""
        return (self.output_dir / "stderr").read_text(encoding="utf-8", errors="replace")


@contextlib.contextmanager
def running_drf_reference(
    time_zone: str = "UTC",
    type_filter: str = "serializer",
    variant: str | None = None,
    seed: int = DEFAULT_SEED,
    records: int = 250,
    startup: float = 60.0,
) -> Iterator[Reference]:
    """`python -m tests.reference.serve` on a free loopback port, once it answers; stopped on exit."""
    port = free_port()
    output_dir = Path(tempfile.mkdtemp(prefix="drf-reference-"))
    ready_file, log_path = output_dir / "ready.json", output_dir / "requests.jsonl"
    command = [
        *(sys.executable, "-m", "tests.reference.serve", "--port", str(port), "--time-zone", time_zone),
        *("--type-filter", type_filter, "--seed", str(seed), "--records", str(records)),
        *("--log", str(log_path), "--ready-file", str(ready_file)),
        *(("--variant", variant) if variant else ()),
    ]
    # The worktree first on the path, so the child imports this checkout's fixtures and reference.
    path = os.pathsep.join(filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    with (output_dir / "stdout").open("wb") as out, (output_dir / "stderr").open("wb") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, start_new_session=True, env=env, cwd=REPOSITORY)
    try:
        reference = _wait_until_ready(process, output_dir, ready_file, log_path, startup)
        yield reference
    finally:
        _stop(process)
        shutil.rmtree(output_dir, ignore_errors=True)  # its log and output go with it: read them inside


def _wait_until_ready(
    process: subprocess.Popen[bytes], output_dir: Path, ready_file: Path, log_path: Path, startup: float
) -> Reference:
    """Wait for the ready line, then for a real HTTP answer over the socket (any status: `no-auth` gives 200)."""
    deadline = time.monotonic() + startup
    while not ready_file.exists():
        _check_alive(process, output_dir, deadline)
        time.sleep(0.05)
    ready = json.loads(ready_file.read_text(encoding="utf-8"))
    while True:
        with contextlib.suppress(httpx.TransportError):
            httpx.get(ready["url"] + HISTORY_PATH, timeout=2)
            break
        _check_alive(process, output_dir, deadline)
        time.sleep(0.05)
    skip = len(log_path.read_text(encoding="utf-8").splitlines()) if log_path.exists() else 0
    return Reference(
        url=ready["url"],
        token=ready["token"],
        expired_token=ready["expired_token"],
        records=ready["records"],
        process=process,
        output_dir=output_dir,
        log_path=log_path,
        _skip=skip,
    )


def _check_alive(process: subprocess.Popen[bytes], output_dir: Path, deadline: float) -> None:
    if process.poll() is not None:
        stderr = (output_dir / "stderr").read_text(encoding="utf-8", errors="replace")
        raise RuntimeError(f"the DRF reference exited {process.returncode}: {stderr[-2000:]}")
    if time.monotonic() > deadline:
        raise RuntimeError("the DRF reference did not start in time")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the reference's process group (uvicorn shuts down cleanly), SIGKILL after 20 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
