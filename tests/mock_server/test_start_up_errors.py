"""Configuration errors of `billing-mock`: bad flags, a port in use, an unreadable or invalid fixtures
file, an invalid spec. Each is one clear line on stderr, exit status 2, no traceback, nothing served."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "openapi.yaml"
EXIT_USAGE = 2


def billing_mock(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLING_MOCK_")}
    return subprocess.run(
        [sys.executable, "-m", "mock_server.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_usage_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert result.returncode == EXIT_USAGE, output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got:\n{result.stderr}"
    assert lines[0].startswith("billing-mock: error: "), lines[0]
    assert "billing-mock on" not in result.stdout  # never got as far as the banner
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


BAD_FLAGS = {
    "unknown-flag": (["--bogus"], "--bogus"),
    "port-not-int": (["--port", "abc"], "--port"),
    "port-zero": (["--port", "0"], "--port"),
    "workers-zero": (["--workers", "0"], "--workers"),
    "negative-records": (["--records", "-1"], "--records"),
    "bad-log-level": (["--log-level", "loud"], "--log-level"),
    "empty-app-id": (["--app-id", ""], "--app-id"),
    "empty-admin-token": (["--admin-token", ""], "--admin-token"),
    "spaced-admin-token": (["--admin-token", "a b"], "--admin-token"),
    "reload-with-workers": (["--reload", "--workers", "2"], "--reload"),
    "bare-fixtures-command": (["fixtures"], "fixtures dump"),
}


@pytest.mark.parametrize(("args", "needle"), BAD_FLAGS.values(), ids=BAD_FLAGS.keys())
def test_bad_flags(args: list[str], needle: str) -> None:
    assert_usage_error(billing_mock(*args), needle)


BAD_VARIABLES = {"port": ("PORT", "eighty"), "log-level": ("LOG_LEVEL", "loud"), "error-rate": ("ERROR_RATE", "often")}


@pytest.mark.parametrize(("name", "value"), BAD_VARIABLES.values(), ids=BAD_VARIABLES.keys())
def test_bad_environment_variable(name: str, value: str) -> None:
    env = {**os.environ, f"BILLING_MOCK_{name}": value}
    result = subprocess.run(
        [sys.executable, "-m", "mock_server.cli"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert_usage_error(result, f"BILLING_MOCK_{name}", repr(value))


def test_port_in_use() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert_usage_error(billing_mock("--port", str(port)), str(port), "in use")


def _write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


FIXTURES = {
    "missing": (None, "cannot read"),
    "directory": ("<dir>", "cannot read"),
    "not-json": (b"{not json", "not valid JSON"),
    "not-utf8": (b"\xff\xfe\x00\x01", "bad.json"),
    "a-list": (b"[1, 2]", "bad.json"),
    "unknown-keys": (b'{"records": []}', "records"),
}


@pytest.mark.parametrize(("content", "needle"), FIXTURES.values(), ids=FIXTURES.keys())
def test_unreadable_or_invalid_fixtures(tmp_path: Path, content: bytes | str | None, needle: str) -> None:
    path = tmp_path / "bad.json"
    if content == "<dir>":
        path.mkdir()
    elif content is not None:
        _write(path, content)
    assert_usage_error(billing_mock("--fixtures", str(path), "--port", "1"), needle)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_fixtures_without_read_permission(tmp_path: Path) -> None:
    path = _write(tmp_path / "secret.json", "{}")
    path.chmod(0)
    assert_usage_error(billing_mock("--fixtures", str(path)), "secret.json")


SPECS = {
    "missing": (None, "cannot read"),
    "directory": ("<dir>", "cannot read"),
    "a-list": ("- 1\n- 2\n", "OpenAPI 3.0"),
    "swagger-2": ("swagger: '2.0'\npaths: {}\n", "OpenAPI 3.0"),
    "no-paths": ("openapi: 3.0.3\n", "no paths"),
}


@pytest.mark.parametrize(("content", "needle"), SPECS.values(), ids=SPECS.keys())
def test_invalid_spec(tmp_path: Path, content: str | None, needle: str) -> None:
    path = tmp_path / "spec.yaml"
    if content == "<dir>":
        path.mkdir()
    elif content is not None:
        _write(path, content)
    assert_usage_error(billing_mock("--spec", str(path), "--port", "1"), needle)


# Specs that parse as YAML but cannot be served, or do not parse at all.
SPEC_GAPS = {
    "yaml-syntax": ("openapi: 3.0.3\npaths: [\n", "not valid YAML"),
    "not-utf8": (b"\xff\xfe\x00openapi", "spec.yaml"),
    "no-operations-the-mock-serves": (
        "openapi: 3.0.3\ninfo: {title: x, version: '1'}\npaths:\n  /x:\n    get:\n      operationId: other\n"
        "      responses: {'200': {description: ok}}\n",
        "spec.yaml",
    ),
    "dangling-ref": ("<dangling-ref>", "spec.yaml"),
}


@pytest.mark.parametrize(("content", "needle"), SPEC_GAPS.values(), ids=SPEC_GAPS.keys())
def test_invalid_spec_gaps(tmp_path: Path, content: bytes | str, needle: str) -> None:
    if content == "<dangling-ref>":
        content = SPEC.read_text().replace("#/components/schemas/BillingRecordType'", "#/components/schemas/Nope'")
    path = _write(tmp_path / "spec.yaml", content)
    assert_usage_error(billing_mock("--spec", str(path), "--port", "1"), needle)
