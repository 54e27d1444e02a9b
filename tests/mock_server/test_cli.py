"""`billing-mock` as a user meets it, each run a real process on a real socket: the banner (controls,
tooling access, ready `export` lines), `--help`, `billing-mock credentials`, and the admin token
reaching every worker through the environment."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from mock_server.security import DEFAULT_BEARER_TOKEN
from tests.support import clean_env, mock_process

ROOT = Path(__file__).resolve().parents[2]
HISTORY = "/api/billing/history/"


def _banner(*args: str, env: dict[str, str] | None = None, host: str = "127.0.0.1") -> str:
    with mock_process(*args, env=env, host=host) as served:
        pass
    return served.stdout


def test_banner_shows_the_active_controls() -> None:
    default = _banner()
    assert re.search(r"Controls .*rate limit off, latency none, error rate 0, CORS http://localhost", default)
    configured = _banner(
        "--rate-limit", "--latency", "50-400", "--error-rate", "0.1", "--cors-origins", "https://app.example.test"
    )
    line = next(line for line in configured.splitlines() if "Controls" in line)
    assert "rate limit on" in line and "latency 50-400 ms" in line and "error rate 0.1" in line
    assert "CORS https://app.example.test" in line
    assert "CORS off" in _banner("--cors-origins", "none")


def test_banner_export_lines_work_in_a_shell() -> None:
    with mock_process() as served:
        pass
    url, banner = served.url, served.stdout
    exports = [line.strip() for line in banner.splitlines() if line.strip().startswith("export ")]
    assert len(exports) == 2, banner
    assert all(f"{name}=" in exports[1] for name in ("BILLING_BEARER_TOKEN", "BILLING_APP_ID", "BILLING_APP_TOKEN"))
    assert exports[0] == f"export BILLING_MIFUMO_URL={url} BILLING_WEPAY_URL={url}"
    script = (
        "; ".join(exports) + '; printf "%s\\n%s\\n%s" "$BILLING_BEARER_TOKEN" "$BILLING_APP_ID" "$BILLING_WEPAY_URL"'
    )
    shown = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True, timeout=10).stdout
    token, app_id, wepay_url = shown.splitlines()
    assert (token, app_id, wepay_url) == (DEFAULT_BEARER_TOKEN, "mock-app-id", url)


def test_banner_says_why_the_tooling_routes_are_off_beyond_loopback() -> None:
    banner = _banner(host="0.0.0.0")
    line = next(line for line in banner.splitlines() if line.strip().startswith("Tooling "))
    assert "403" in line and "0.0.0.0" in line and "--admin-token" in line and "BILLING_MOCK_ADMIN_TOKEN" in line


def test_tooling_beyond_loopback_refused_over_a_real_socket() -> None:
    with mock_process(host="0.0.0.0") as served:
        url = served.url  # bound to every interface, requested through loopback
        assert httpx.get(url + "/__mock/requests").status_code == 403
        assert httpx.post(url + "/__mock/dataset/reset", json={"records": 1}).status_code == 403
        assert httpx.get(url + "/__mock/health").status_code == 200
        history = httpx.get(url + HISTORY, headers={"Authorization": f"Bearer {DEFAULT_BEARER_TOKEN}"})
        assert history.status_code == 200 and history.json()["count"] == 250


@pytest.mark.parametrize(("workers", "given_by"), [(1, "env"), (2, "env"), (2, "flag")])
def test_admin_token_reaches_every_worker(workers: int, given_by: str) -> None:
    """A container passes BILLING_MOCK_ADMIN_TOKEN, a user --admin-token; with --workers, each worker
    (a process of its own) must enforce it."""
    token = f"from-{given_by}"
    flag = ["--admin-token", token] if given_by == "flag" else []
    env = clean_env(**({"BILLING_MOCK_ADMIN_TOKEN": token} if not flag else {}))
    with mock_process("--workers", str(workers), *flag, env=env) as served:
        url = served.url
        pids, statuses = set(), set()
        for _ in range(20 * workers):  # new connections: reach each worker
            with httpx.Client() as client:
                pids.add(client.get(url + "/__mock/health").json()["pid"])
                statuses.add(client.get(url + "/__mock/requests").status_code)
                granted = client.get(url + "/__mock/requests", headers={"Authorization": f"Bearer {token}"})
                assert granted.status_code == 200
        assert statuses == {401}
        assert len(pids) == workers
    assert "need Authorization: Bearer <admin token>" in served.stdout and token not in served.stdout


def test_controls_reach_every_worker() -> None:
    """Worker processes build their app from the environment the parent exports: the controls too."""
    headers = {"Authorization": f"Bearer {DEFAULT_BEARER_TOKEN}"}
    with mock_process("--workers", "2", "--error-rate", "1", "--latency", "20-20") as served:
        pids, statuses = set(), set()
        started = time.monotonic()
        for _ in range(30):
            with httpx.Client() as client:  # new connections: both workers
                pids.add(client.get(served.url + "/__mock/health").json()["pid"])
                statuses.add(client.get(served.url + HISTORY, headers=headers).status_code)
        assert len(pids) == 2 and statuses == {500}
        assert time.monotonic() - started >= 30 * 0.02
    assert "error rate 1" in served.stdout and "latency 20-20 ms" in served.stdout


def test_help_lists_defaults_environment_variables_and_subcommands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mock_server.cli", "--help"],
        cwd=ROOT,
        env=clean_env(COLUMNS="200"),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    text = result.stdout
    options = text.split("options:", 1)[1].split("commands:", 1)[0]
    entries = {
        block.split()[0]: " ".join(block.split())
        for block in re.split(r"\n(?=  -)", options)
        if block.strip().startswith("--")
    }
    assert {"--port", "--fixtures", "--admin-token", "--rate-limit", "--reload", "--latency"} <= set(entries)
    for flag, entry in entries.items():
        env = "BILLING_MOCK_" + flag[2:].upper().replace("-", "_")
        assert f"env {env})" in entry and "(default: " in entry, entry
    assert "(default: 4010; env BILLING_MOCK_PORT)" in text
    assert "billing-mock fixtures dump" in text and "billing-mock credentials" in text


def test_credentials_command_works_whichever_python3_is_first_on_path(tmp_path: Path) -> None:
    """The README's `eval "$(billing-mock credentials)"` needs only the installed script, not a `python3`
    that can import the project (a fresh venv, another pyenv version, a system python)."""
    script = Path(sys.executable).parent / "billing-mock"
    if not script.exists():
        pytest.skip("billing-mock is not installed beside this interpreter")
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "python3").write_text("#!/bin/sh\necho 'No module named mock_server' >&2\nexit 1\n")
    (fake / "python3").chmod(0o755)
    path = os.pathsep.join([str(fake), str(script.parent), "/usr/bin", "/bin"])
    one_liner = (
        "python3 -c 'from mock_server.security import DEFAULT_BEARER_TOKEN as t; print(t)' 2>/dev/null || echo broken;"
        ' eval "$(billing-mock credentials)"; echo "$BILLING_BEARER_TOKEN|$BILLING_APP_ID|$BILLING_APP_TOKEN"'
    )
    shown = subprocess.run(
        ["sh", "-c", one_liner], env=clean_env(PATH=path), capture_output=True, text=True, timeout=30, check=True
    ).stdout.splitlines()
    assert shown[0] == "broken"  # the old one-liner, under this PATH
    assert shown[1] == f"{DEFAULT_BEARER_TOKEN}|mock-app-id|mock-app-token"
    custom = subprocess.run(
        [str(script), "credentials", "--app-token", "it's secret"],
        env=clean_env(PATH=path),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert custom.returncode == 2 and "--app-token" in custom.stderr  # spaces are refused, as when serving
    quoted = subprocess.run(
        ["sh", "-c", 'eval "$(billing-mock credentials --app-id "a\'b")"; echo "$BILLING_APP_ID"'],
        env=clean_env(PATH=path),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert quoted.stdout.strip() == "a'b"


@pytest.mark.parametrize(("level", "logged"), [("info", True), ("warning", False)])
def test_access_log_lines_at_info_and_none_above(level: str, logged: bool) -> None:
    """Above `info` uvicorn's access log is switched off, not filtered (it would format every line first)."""
    with mock_process("--log-level", level) as spawned:
        httpx.get(f"{spawned.url}/api/billing/history/", headers={"Authorization": f"Bearer {DEFAULT_BEARER_TOKEN}"})
        time.sleep(0.3)
        access = '"GET /api/billing/history/ HTTP/1.1" 200'
        lines = [line for line in (spawned.stdout + spawned.stderr).splitlines() if access in line]
    assert bool(lines) is logged, lines


@pytest.mark.parametrize(
    ("args", "env", "scheme"),
    [
        ((), {}, "https"),  # loopback is believed by default
        (("--forwarded-allow-ips", "192.0.2.1"), {}, "http"),  # a proxy elsewhere: the header is not believed
        ((), {"BILLING_MOCK_FORWARDED_ALLOW_IPS": "*"}, "https"),
    ],
    ids=["default", "other-proxy", "env-any"],
)
def test_forwarded_proto_is_believed_only_from_allowed_proxies(
    args: tuple[str, ...], env: dict[str, str], scheme: str
) -> None:
    """Behind a TLS-terminating ingress Mifumo's absolute links must keep the client's https: the ingress's
    X-Forwarded-Proto is believed when its address is allowed (deploy/kubernetes.yaml allows any)."""
    with mock_process(*args, env=clean_env(**env)) as spawned:
        page = httpx.get(
            f"{spawned.url}/api/billing/history/?page_size=1",
            headers={"Authorization": f"Bearer {DEFAULT_BEARER_TOKEN}", "X-Forwarded-Proto": "https"},
        )
    assert page.status_code == 200
    assert page.json()["next"].startswith(f"{scheme}://127.0.0.1:"), page.json()["next"]
