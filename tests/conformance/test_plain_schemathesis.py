"""Plain Schemathesis on this contract: `st run specs/openapi.yaml --url <mock> --checks all -H …` started
from the project root reads `schemathesis.toml` (and through it `conformance/schemathesis_hooks.py`) and
reports no failure against the mock, while still catching a real violation. Runs the real `st` CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mock_server import MockConfig, create_app
from mock_server.testing import serve_in_thread
from tests.broken.asgi import Broken
from tests.broken.impls import BROKEN
from tests.support import MOCK_CREDENTIALS

ROOT = Path(__file__).resolve().parents[2]
# The `st` installed with this interpreter's Schemathesis (a venv's bin need not be on PATH).
ST = (
    str(Path(sys.executable).parent / "st")
    if (Path(sys.executable).parent / "st").exists()
    else shutil.which("st") or "st"
)


def _st(url: str, cwd: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [
        ST, "run", str(ROOT / "specs" / "openapi.yaml"), "--url", url, "--checks", "all",
        "-H", f"Authorization: Bearer {MOCK_CREDENTIALS.bearer_token}",
        "-H", f"App-Id: {MOCK_CREDENTIALS.app_id}", "-H", f"App-Token: {MOCK_CREDENTIALS.app_token}",
        "--seed", "1", "--no-color", *extra,
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEMATHESIS_")}
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    with serve_in_thread(create_app(MockConfig(seed=7))) as url:
        yield url


def test_plain_st_run_from_the_project_root_passes_the_mock(mock_url: str) -> None:
    done = _st(mock_url, ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "No issues found" in done.stdout and "ST202" not in done.stdout


def test_without_the_projects_config_the_cursor_rule_is_a_false_failure(mock_url: str, tmp_path: Path) -> None:
    # What the config is for: elsewhere, OpenAPI 3.0 alone makes a generated cursor look valid.
    done = _st(mock_url, tmp_path)
    assert done.returncode == 1 and "ST202" in done.stdout and "page=" in done.stdout, done.stdout[-3000:]


def test_plain_st_run_still_catches_a_real_violation() -> None:
    impl = next(b for b in BROKEN if b.name == "server_error_on_bad_input")
    with serve_in_thread(Broken(create_app(MockConfig(seed=7)), impl.handler)) as url:
        done = _st(url, ROOT, "--max-examples", "10")
    assert done.returncode == 1, done.stdout[-3000:]
    assert "Server error" in done.stdout and "ST202" not in done.stdout
