"""`billing-mock` as a user meets it, each run a real process on a real socket: the banner (controls,
tooling access, ready `export` lines), each command's `--help` (every option with its default and variable),
variables honoured, `--version`, `billing-mock credentials`, the admin token reaching every worker through
the environment, and every invocation README.md shows still working."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from fixtures import DatasetSize, dump_dataset, generate_dataset
from mock_server.options import COMMANDS
from mock_server.security import DEFAULT_BEARER_TOKEN
from mock_server.testing import free_port
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


def _billing_mock(
    *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`billing-mock ARGS` run to its end (`python -m mock_server.cli`, as `mock_process` starts it)."""
    return subprocess.run(
        [sys.executable, "-m", "mock_server.cli", *args],
        cwd=cwd,
        env=clean_env(COLUMNS="200") if env is None else env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _help_entries(text: str) -> dict[str, str]:
    """`--help`'s option entries by long flag, each joined onto one line."""
    options = text.split("options:", 1)[1].split("commands:", 1)[0]
    entries = {}
    for block in re.split(r"\n(?=  -)", options):
        head = block.strip().split("  ")[0]  # "-o FILE, --output FILE": the flags, before the description
        flags = re.findall(r"--[a-z][a-z-]*", head)
        if flags:
            entries[flags[0]] = " ".join(block.split())
    return entries


# Each command's help, and flags it must list whatever the table says (a flag dropped from it fails here).
HELPS = {
    "serve": ((), {"--port", "--fixtures", "--admin-token", "--rate-limit", "--reload", "--latency", "--workers"}),
    "credentials": (("credentials",), {"--bearer-token", "--app-id", "--app-token"}),
    "fixtures dump": (("fixtures", "dump"), {"--seed", "--records", "--format", "--output"}),
    "proxy": (("proxy",), {"--mifumo-upstream", "--wepay-upstream", "--record", "--strict", "--upstream-timeout"}),
}


@pytest.mark.parametrize(("words", "required"), HELPS.values(), ids=HELPS.keys())
def test_help_lists_every_option_with_its_default_and_variable(words: tuple[str, ...], required: set[str]) -> None:
    result = _billing_mock(*words, "--help")
    assert result.returncode == 0, result.stderr
    entries = _help_entries(result.stdout)
    command = next(command for command in COMMANDS if command.words == words)
    listed = {option.flag for option in command.options if not option.hidden}
    assert required <= listed and set(entries) - {"--help", "--version"} == listed, result.stdout
    for option in command.options:
        if option.hidden:
            continue
        entry = entries[option.flag]
        variable = f"env {option.env_var})" if option.from_environment else "not read from the environment)"
        assert "(default: " in entry and entry.endswith(variable), entry
        assert option.env_var == "BILLING_MOCK_" + option.flag[2:].upper().replace("-", "_")
    if not words:
        assert "(default: 4010; env BILLING_MOCK_PORT)" in entries["--port"]
        commands = result.stdout.split("commands:", 1)[1]
        assert all(name in commands for name in ("billing-mock credentials", "billing-mock fixtures dump", "proxy"))


def test_variables_are_honoured_and_a_flag_wins_over_its_variable() -> None:
    headers = {"Authorization": f"Bearer {DEFAULT_BEARER_TOKEN}"}
    env = clean_env(BILLING_MOCK_RECORDS="7", BILLING_MOCK_RATE_LIMIT="true", BILLING_MOCK_APP_ID="from-env")
    with mock_process(env=env) as from_env:
        count = httpx.get(from_env.url + HISTORY, headers=headers).json()["count"]
        wepay = httpx.get(
            from_env.url + "/billing_statements",
            headers={"App-Id": "from-env", "App-Token": "mock-app-token", "Api-Version": "3.0"},
        )
    assert count == 7 and wepay.status_code == 200
    assert "rate limit on" in from_env.stdout and "App-Id: from-env" in from_env.stdout
    with mock_process("--records", "9", env=env) as flagged:
        assert httpx.get(flagged.url + HISTORY, headers=headers).json()["count"] == 9
    printed = _billing_mock("credentials", env=clean_env(BILLING_MOCK_APP_TOKEN="env-token"))
    assert printed.returncode == 0 and "BILLING_APP_TOKEN=env-token" in printed.stdout
    flagged_out = _billing_mock("credentials", "--app-token", "flag", env=clean_env(BILLING_MOCK_APP_TOKEN="env"))
    assert "BILLING_APP_TOKEN=flag" in flagged_out.stdout


def test_fixtures_help_exits_0_and_names_dump() -> None:
    listed = _billing_mock("fixtures", "--help")
    assert listed.returncode == 0 and "dump" in listed.stdout.split("commands:", 1)[1], listed.stderr
    dump = _billing_mock("fixtures", "dump", "--help")
    assert dump.returncode == 0 and "--format {json,yaml}" in dump.stdout and "-o FILE, --output FILE" in dump.stdout


def test_version_is_the_installed_packages() -> None:
    result = _billing_mock("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"billing-mock {importlib.metadata.version('billing-contract')}\n"


# --- every `billing-mock` invocation README.md shows -----------------------------------------------------

# Mentions of a command by name, not invocations (`billing-mock proxy` alone has no upstream to forward to).
NAMES_ONLY = {("proxy",)}
# README's placeholders, as a user would fill them in (file names are files in the test's folder).
PLACEHOLDERS = {"N": "7", "URL": "http://127.0.0.1:9", "\u2026": "http://127.0.0.1:9", "COMMAND": "proxy"}
README_FILES = ("FILE", "my-data.yaml", "staging.yaml")


def readme_invocations() -> list[tuple[str, ...]]:
    """Each distinct `billing-mock ...` command line in README.md (code blocks and inline code), its
    continuation lines joined, up to the end of the command (a backtick, quote, `)`, `&` or a comment)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8").replace("\\\n", " ")
    found: dict[tuple[str, ...], None] = {}
    for match in re.finditer(r"(?<![\w-])billing-mock(?![\w:-])([^\n`\")&#]*)", text):
        words = tuple(match.group(1).replace("[", " ").replace("]", " ").split())
        if words not in NAMES_ONLY:
            found[words] = None
    return list(found)


def _filled(words: tuple[str, ...]) -> list[str]:
    return [PLACEHOLDERS.get(word, word.split("|")[0]) for word in words]


def _serves(words: tuple[str, ...]) -> bool:
    if "--help" in words or "--version" in words:
        return False
    return not words or words[0] == "proxy" or words[0].startswith("-")


@pytest.mark.parametrize("words", readme_invocations(), ids=lambda words: " ".join(("billing-mock", *words)))
def test_every_readme_invocation_still_works(words: tuple[str, ...], tmp_path: Path) -> None:
    """Run as a user would (the installed script where there is one), in a folder holding the files the
    README names; one that serves must come up (on a free port: a later --port wins) and stop cleanly."""
    dataset = generate_dataset(3, DatasetSize(records=5, statements=4, accounts=2))
    for name in README_FILES:
        with (tmp_path / name).open("w", encoding="utf-8") as stream:
            dump_dataset(dataset, stream, "yaml")
    script = Path(sys.executable).parent / "billing-mock"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "mock_server.cli"]
    argv = [*command, *_filled(words)]
    if not _serves(words):
        done = subprocess.run(argv, cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return
    port = free_port()
    with (tmp_path / "out").open("wb") as out:
        process = subprocess.Popen(
            [*argv, "--port", str(port)], cwd=tmp_path, env=clean_env(), stdout=out, stderr=out, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 60
        while not _healthy(f"http://127.0.0.1:{port}"):
            assert process.poll() is None, (tmp_path / "out").read_text()[-2000:]
            assert time.monotonic() < deadline, "did not start"
            time.sleep(0.1)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        returncode = process.wait(timeout=30)
    assert returncode == 0, (tmp_path / "out").read_text()[-2000:]


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/__mock/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_readme_invocations_are_found() -> None:
    """The extraction above must see the README's commands, or the test before would test nothing."""
    found = {" ".join(words) for words in readme_invocations()}
    assert {"", "credentials", "--help", "--port 4010", "--reload --fixtures my-data.yaml"} <= found, found
    assert any(words.startswith("proxy --wepay-upstream") for words in found), found
    assert any(words.startswith("fixtures dump") for words in found), found


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
