"""`--reload`: the mock restarts on a change to its fixtures file and serves the new data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from fixtures import DatasetSize, dump_dataset, generate_dataset
from mock_server.testing import free_port


def _write(path: Path, records: int) -> None:
    with path.open("w", encoding="utf-8") as stream:
        dump_dataset(generate_dataset(1, DatasetSize(records, 2, 1)), stream, "yaml")


def _records(url: str) -> int | None:
    try:
        return httpx.get(f"{url}/__mock/dataset", timeout=1).json()["mifumo"]["records"]
    except (httpx.TransportError, ValueError):
        return None


def _wait_for(url: str, expected: int, timeout: float = 30) -> int | None:
    deadline, seen = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        seen = _records(url)
        if seen == expected:
            return seen
        time.sleep(0.2)
    return seen


def test_reload_serves_an_edited_fixtures_file(tmp_path: Path) -> None:
    data = tmp_path / "data.yaml"
    _write(data, 5)
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mock_server.cli",
            "--reload",
            "--fixtures",
            str(data),
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        assert _wait_for(url, 5) == 5
        time.sleep(0.5)  # let the watcher settle before the edit
        _write(data, 9)
        assert _wait_for(url, 9) == 9
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
