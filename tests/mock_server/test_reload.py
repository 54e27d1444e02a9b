"""`--reload`: the mock rebuilds on a change to its fixtures file and serves the new data; a bad edit
is one line on stderr while the last good dataset keeps serving; files beside it are not watched."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from fixtures import DatasetSize, dump_dataset, generate_dataset
from mock_server.security import DEFAULT_BEARER_TOKEN
from tests.support import SpawnedMock, mock_process

HISTORY = "/api/billing/history/"
SPEC = Path(__file__).resolve().parents[2] / "specs" / "openapi.yaml"


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


@dataclass
class Reloading:
    url: str
    process: SpawnedMock

    def output(self) -> str:
        return self.process.stderr

    def wait_for_output(self, needle: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.output():
                break
            time.sleep(0.1)
        return self.output()


@contextmanager
def reloading_mock(data: Path, tmp_path: Path, records: int, *extra: str) -> Iterator[Reloading]:
    with mock_process("--reload", "--fixtures", str(data), "--log-level", "info", *extra) as spawned:
        assert _wait_for(spawned.url, records) == records
        time.sleep(0.5)  # let the watcher settle before the edit
        yield Reloading(spawned.url, spawned)
    assert spawned.returncode == 0


def test_reload_serves_an_edited_fixtures_file(tmp_path: Path) -> None:
    data = tmp_path / "data.yaml"
    _write(data, 5)
    with reloading_mock(data, tmp_path, 5) as mock:
        _write(data, 9)
        assert _wait_for(mock.url, 9) == 9
        assert "billing-mock: reloaded (" in mock.wait_for_output("reloaded")
        banner = mock.process.stdout
        assert f"Reload    watching {data}, " in banner and "openapi.yaml" in banner
        # an editor's atomic save: a new file renamed over the old one
        _write(tmp_path / ".data.yaml.swp", 4)
        os.replace(tmp_path / ".data.yaml.swp", data)
        assert _wait_for(mock.url, 4) == 4


def test_a_bad_spec_edit_is_one_line_and_the_last_good_version_keeps_serving(tmp_path: Path) -> None:
    data, spec = tmp_path / "data.yaml", tmp_path / "spec.yaml"
    _write(data, 5)
    good = SPEC.read_text(encoding="utf-8")
    spec.write_text(good, encoding="utf-8")
    with reloading_mock(data, tmp_path, 5, "--spec", str(spec)) as mock:
        spec.write_text("openapi: 3.0.3\npaths: [\n", encoding="utf-8")
        output = mock.wait_for_output("billing-mock: error:")
        assert "Traceback" not in output, output
        errors = [line for line in output.splitlines() if "error" in line.lower()]
        assert len(errors) == 1 and errors[0].startswith("billing-mock: error: ") and "spec.yaml" in errors[0], output
        served = httpx.get(mock.url + HISTORY, headers={"Authorization": f"Bearer {DEFAULT_BEARER_TOKEN}"}, timeout=3)
        assert served.status_code == 200 and served.json()["count"] == 5
        spec.write_text(good, encoding="utf-8")
        assert "billing-mock: reloaded (" in mock.wait_for_output("reloaded")


def test_a_bad_edit_is_one_line_and_the_last_good_dataset_keeps_serving(tmp_path: Path) -> None:
    data = tmp_path / "data.yaml"
    _write(data, 5)
    with reloading_mock(data, tmp_path, 5) as mock:
        text = data.read_text(encoding="utf-8")
        data.write_text(text.replace("amount: ", "amount: lots #", 1), encoding="utf-8")
        output = mock.wait_for_output("billing-mock: error:")
        assert "Traceback" not in output and "Process SpawnProcess" not in output, output
        errors = [line for line in output.splitlines() if "error" in line.lower()]
        assert len(errors) == 1, output
        assert str(data.name) in errors[0] and "mifumo.records[0].amount" in errors[0] and "record id" in errors[0]
        # still serving, promptly, the dataset it had
        assert _records(mock.url) == 5
        served = httpx.get(mock.url + HISTORY, headers={"Authorization": f"Bearer {DEFAULT_BEARER_TOKEN}"}, timeout=3)
        assert served.status_code == 200 and served.json()["count"] == 5
        _write(data, 7)  # fixed: served
        assert _wait_for(mock.url, 7) == 7


def test_only_the_fixtures_file_and_the_spec_are_watched(tmp_path: Path) -> None:
    data = tmp_path / "data.yaml"
    _write(data, 5)
    node_modules = tmp_path / "node_modules" / "pkg"
    node_modules.mkdir(parents=True)
    with reloading_mock(data, tmp_path, 5) as mock:
        (node_modules / "index.js").write_text("module.exports = 1\n")
        (tmp_path / "other.yaml").write_text("a: 1\n")
        (tmp_path / "data.yaml.bak").write_text("not: fixtures\n")
        os.utime(data)  # touched, not changed: nothing to rebuild either
        time.sleep(2)  # several debounce periods
        assert "reloaded" not in mock.output() and "error" not in mock.output()
        _write(data, 6)
        assert _wait_for(mock.url, 6) == 6
        assert mock.wait_for_output("reloaded").count("reloaded") == 1


def test_reload_with_several_workers_is_a_usage_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mock_server.cli", "--reload", "--workers", "2", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2 and result.stderr.startswith("billing-mock: error: --reload"), result.stderr
