"""The package as users install it: a wheel built from the checkout, installed (not editable) in a fresh
virtual environment, run from a folder that is not the checkout. It must serve the mock on its built-in
fixtures and run the suite against it, conformant, without the repository's files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import venv
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mock_server.testing import free_port
from tests.support import MOCK_CREDENTIALS, MOCK_SUITE_ENV

ROOT = Path(__file__).resolve().parents[2]


def _run(command: list[str], cwd: Path, timeout: float = 600, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert done.returncode == 0, (
        f"{' '.join(command)} exited {done.returncode}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    )
    return done.stdout


def _copy_of_the_checkout(target: Path) -> Path:
    """The files git would commit (tracked, or new and not ignored): a build in the checkout itself would
    leave a build/ folder whose stale modules a later wheel could pick up."""
    listed = _run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], ROOT).split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The bin/ folder of a fresh venv holding the wheel and its dependencies, nothing from the checkout."""
    work = tmp_path_factory.mktemp("wheel")
    source = _copy_of_the_checkout(work / "source")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(work / "dist"), str(source)], work)
    wheels = list((work / "dist").glob("billing_contract-*.whl"))
    assert len(wheels) == 1, wheels
    venv.create(work / "venv", with_pip=True)
    bin_dir = work / "venv" / "bin"
    _run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(wheels[0])], work)
    yield bin_dir


def _elsewhere(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A folder outside the checkout, and an environment that cannot reach the checkout's modules."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return folder, {**env, **MOCK_SUITE_ENV}


def test_wheel_ships_the_contract_documents(installed: Path, tmp_path: Path) -> None:
    folder, env = _elsewhere(tmp_path)
    script = (
        "import billing_contract, conformance.cli, sys;"
        "print(billing_contract.SPEC_PATH);"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'mock_server'))"
    )
    out = _run([str(installed / "python"), "-c", script], folder, env=env).splitlines()
    spec_path = Path(out[0])
    assert spec_path.is_file() and "site-packages" in spec_path.parts, out[0]
    assert ROOT not in spec_path.parents
    assert (spec_path.parent / "mock-admin.yaml").is_file()
    assert out[1] == "[]", "importing the suite loads no mock_server module"
    # Every subpackage is in the wheel: the proxy's command line imports them all.
    _run([str(installed / "billing-mock"), "proxy", "--help"], folder, env=env)


def test_installed_mock_serves_and_installed_suite_finds_it_conformant(installed: Path, tmp_path: Path) -> None:
    folder, env = _elsewhere(tmp_path)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    mock = subprocess.Popen(
        [str(installed / "billing-mock"), "--port", str(port), "--log-level", "warning"],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert mock.poll() is None, mock.communicate()[1]
            try:
                if httpx.get(f"{url}/__mock/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the installed mock did not start"
            time.sleep(0.2)
        history = httpx.get(
            f"{url}/api/billing/history/", headers={"Authorization": f"Bearer {MOCK_CREDENTIALS.bearer_token}"}
        )
        assert history.status_code == 200 and history.json()["count"] > 0
        wepay = {"App-Id": MOCK_CREDENTIALS.app_id, "App-Token": MOCK_CREDENTIALS.app_token, "Api-Version": "3.0"}
        statements = httpx.get(f"{url}/billing_statements", headers=wepay)
        assert statements.status_code == 200 and statements.json()["results"]
        assert httpx.get(f"{url}/openapi.json").status_code == 200
        suite = subprocess.run(
            [str(installed / "billing-conformance"), "--mifumo-url", url, "--wepay-url", url, "--quiet"],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert suite.returncode == 0, suite.stdout[-3000:] + suite.stderr[-3000:]
    finally:
        mock.terminate()
        mock.wait(timeout=15)
