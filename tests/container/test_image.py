"""The image, built from this checkout with the root Dockerfile: what it holds, the mock it runs by default,
the suite it carries, its health check and how it stops (issue #15). Each container runs on the host's
network on a free port and is removed after; the base image is built here once and kept (see podman.py)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import httpx
import pytest

from mock_server.cli import ENV_PREFIX
from tests.container.conftest import HEALTH_PATH, Container, Image, started
from tests.container.dockerfile import parse
from tests.container.podman import Podman, env_args
from tests.support import MOCK_CREDENTIALS, MOCK_SUITE_ENV

WEPAY_HEADERS = {"App-Id": MOCK_CREDENTIALS.app_id, "App-Token": MOCK_CREDENTIALS.app_token, "Api-Version": "3.0"}
RUNNER_UID = 1001  # GitHub's hosted runners' user: not the image's
MIFUMO_HEADERS = {"Authorization": f"Bearer {MOCK_CREDENTIALS.bearer_token}"}

# Run inside the image as root, so that it sees every file: where the project is installed, and what must
# not be there (the checkout, tests, bench, wheels, pip and its cache, compilers).
INSPECT = r"""
import json, os, shutil, sys, sysconfig
import billing_contract, conformance, fixtures, mock_server
site = sysconfig.get_paths()["purelib"]
found = {"prefix": sys.prefix, "site": site, "spec": str(billing_contract.SPEC_PATH)}
found["modules"] = [m.__file__ for m in (billing_contract, conformance, fixtures, mock_server)]
found["venv_pip"] = os.path.exists(os.path.join(site, "pip"))
found["tools"] = sorted(t for t in ("gcc", "cc", "c++", "clang", "make", "curl", "wget") if shutil.which(t))
dist = [d for d in os.listdir(site) if d.startswith("billing_contract-") and d.endswith(".dist-info")]
direct = os.path.join(site, dist[0], "direct_url.json") if dist else ""
found["direct_url"] = open(direct).read() if direct and os.path.exists(direct) else None
unwanted = []
for top, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if os.path.join(top, d) not in ("/proc", "/sys", "/dev")]
    for name in dirs + files:
        path = os.path.join(top, name)
        if path.startswith("/usr/share/python-wheels/") or "/ensurepip/_bundled/" in path:
            continue  # the base's own bundles for new virtual environments (python3-venv, ensurepip)
        if (
            name.endswith(".whl")
            or name in ("bench", "test_wheel_install.py", "pyproject.toml", "Dockerfile", ".git")
            or path in ("/src", "/wheels", "/opt/build")
            or path.endswith(("/.cache/pip", "/tests/container"))
            or (name == "openapi.yaml" and "billing_contract" not in path)
        ):
            unwanted.append(path)
found["unwanted"] = unwanted
print(json.dumps(found))
"""


def test_image_holds_the_installed_wheel_for_a_non_root_user_and_nothing_of_the_build(
    podman: Podman, image: Image
) -> None:
    config = json.loads(podman.run("image", "inspect", "--format", "{{json .Config}}", image.name).stdout)
    dockerfile = parse().final
    assert config["User"] == dockerfile.user and not config["User"].startswith(("0", "root"))
    assert config["Cmd"] == ["billing-mock"] and not config.get("Entrypoint")
    assert f"{dockerfile.exposed_ports[0]}/tcp" in config["ExposedPorts"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env[ENV_PREFIX + "HOST"] == "0.0.0.0" and env[ENV_PREFIX + "PORT"] == str(dockerfile.exposed_ports[0])
    uid = podman.run("run", "--rm", "--network", "none", image.name, "id", "-u").stdout.strip()
    assert uid == dockerfile.user.split(":")[0] != "0"

    found = json.loads(
        podman.run("run", "--rm", "--network", "none", "--user", "0", image.name, "python3", "-c", INSPECT).stdout
    )
    assert found["prefix"] == "/opt/billing-contract"
    assert all(module.startswith(found["site"] + "/") for module in found["modules"]), found["modules"]
    assert found["spec"] == f"{found['site']}/billing_contract/specs/openapi.yaml"
    assert found["direct_url"] is None or '"editable": true' not in found["direct_url"]
    assert found["unwanted"] == [], "the final image holds build leftovers"
    assert found["tools"] == [], "no compilers and no curl in the final image"
    assert not found["venv_pip"], "nothing installs at run time"

    sizes = {
        name: int(podman.run("image", "inspect", "--format", "{{.Size}}", name).stdout)
        for name in (image.name, image.base)
    }
    added = sizes[image.name] - sizes[image.base]
    print(f"\nimage {sizes[image.name] / 1e6:.0f} MB (base {sizes[image.base] / 1e6:.0f} MB + {added / 1e6:.0f} MB)")
    assert 0 < added < 250e6, f"the project's layers take {added / 1e6:.0f} MB"


def test_build_context_is_only_what_the_wheel_is_built_from(podman: Podman, image: Image) -> None:
    """.dockerignore keeps the context small: the build stage's copy of it holds the packages, the spec and
    the two files the wheel's metadata reads (plus what building the wheel wrote there), nothing else."""
    listing = podman.run(
        "run", "--rm", "--network", "none", "--no-healthcheck", image.build_stage,
        "sh", "-c", "cd /src && ls -A && du -sk --exclude=build --exclude='*.egg-info' . | cut -f1",
    ).stdout.split()  # fmt: skip
    size_kb = int(listing.pop())
    made_by_the_build = {"build", "requirements.txt"} | {name for name in listing if name.endswith(".egg-info")}
    sent = set(listing) - made_by_the_build
    assert sent == {
        "pyproject.toml",
        "README.md",
        "billing_contract",
        "specs",
        "fixtures",
        "mock_server",
        "conformance",
    }
    assert size_kb < 5000, f"a build context of {size_kb} KB"
    found = podman.run("run", "--rm", "--network", "none", "--no-healthcheck", image.build_stage,
                       "find", "/src", "-name", "__pycache__", "-o", "-name", "*.pyc").stdout  # fmt: skip
    assert found == ""


@pytest.fixture(scope="module")
def mock(podman: Podman, image: Image) -> Iterator[Container]:
    """The image's default command, configured only by BILLING_MOCK_PORT (a free port on the host)."""
    with started(podman, image, "mock") as container:
        container.wait_serving()
        yield container


def test_default_command_serves_both_apis_to_the_host_as_pid_1(mock: Container) -> None:
    health = httpx.get(f"{mock.url}{HEALTH_PATH}")
    assert health.json()["pid"] == 1, "billing-mock is the container's PID 1"
    history = httpx.get(f"{mock.url}/api/billing/history/", headers=MIFUMO_HEADERS, params={"page_size": 5})
    assert history.status_code == 200, history.text
    assert history.json()["count"] == 250 and len(history.json()["results"]) == 5
    statements = httpx.get(f"{mock.url}/billing_statements", headers=WEPAY_HEADERS)
    assert statements.status_code == 200 and len(statements.json()["results"]) == 10
    assert httpx.get(f"{mock.url}/billing_statements").status_code == 403  # WePay without credentials
    assert httpx.get(f"{mock.url}/openapi.json").status_code == 200
    dataset = httpx.get(f"{mock.url}/__mock/dataset").json()
    assert dataset["seed"] == 20251201, dataset
    banner = mock.logs()
    assert f"billing-mock on http://0.0.0.0:{mock.port} (1 worker, seed 20251201)" in banner


def test_suite_in_the_image_finds_the_mock_container_conformant(
    podman: Podman, image: Image, mock: Container, tmp_path: Path
) -> None:
    """As the README's GitHub Actions job runs it: as the runner's user (not the image's), the JUnit report
    written to a mounted folder that user owns, the targets and credentials in BILLING_* variables."""
    reports = tmp_path / "reports"
    reports.mkdir()
    os.chown(reports, RUNNER_UID, RUNNER_UID)
    env = {**MOCK_SUITE_ENV, "BILLING_MIFUMO_URL": mock.url, "BILLING_WEPAY_URL": mock.url, "BILLING_SEED": "20251201"}
    suite = podman.run(
        "run", "--rm", "--network", "host", "--no-healthcheck",
        "--user", f"{RUNNER_UID}:{RUNNER_UID}", "--volume", f"{reports}:/reports", "--workdir", "/reports",
        *env_args(env), image.name,
        "billing-conformance", "--junit-xml", "/reports/conformance.xml",
        timeout=300, check=False,
    )  # fmt: skip
    assert suite.returncode == 0, suite.stdout[-3000:] + suite.stderr[-3000:]
    assert "CONFORMANT" in suite.stdout
    junit = ElementTree.parse(reports / "conformance.xml").getroot()
    assert int(junit.get("tests") or junit[0].get("tests")) > 0 and not int(junit.get("failures") or 0)

    # No default credentials in the suite: without BILLING_* variables it is a usage error, before any request.
    bare = podman.run(
        "run", "--rm", "--network", "host", "--no-healthcheck", image.name,
        "billing-conformance", "--wepay-url", mock.url, check=False,
    )  # fmt: skip
    assert bare.returncode == 2, bare.stdout + bare.stderr
    assert "BILLING_APP_ID" in bare.stderr or "app-id" in bare.stderr, bare.stderr


def test_health_check_follows_the_mock(podman: Podman, image: Image, mock: Container) -> None:
    health = json.loads(podman.run("image", "inspect", "--format", "{{json .HealthCheck}}", image.name).stdout)
    assert HEALTH_PATH in " ".join(health["Test"]) and "curl" not in " ".join(health["Test"])
    # Run by podman in the serving container (the port comes from its BILLING_MOCK_PORT).
    run = podman.run("healthcheck", "run", mock.name, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert podman.inspect(mock.name, "{{.State.Healthcheck.Status}}") == "healthy"
    # The same command where nothing serves (a container of its own, no network): it fails.
    command = health["Test"][1:] if health["Test"][0] == "CMD" else ["sh", "-c", health["Test"][1]]
    down = podman.run("run", "--rm", "--network", "none", "--no-healthcheck", image.name, *command, check=False)
    assert down.returncode != 0


def _stop(podman: Podman, container: Container) -> float:
    """`podman stop -t 10` (SIGTERM, then SIGKILL after 10 s); the seconds it took."""
    began = time.monotonic()
    podman.run("stop", "--time", "10", container.name, timeout=60)
    return time.monotonic() - began


def test_sigterm_lets_the_request_in_flight_finish_and_exits_0(podman: Podman, image: Image) -> None:
    with started(podman, image, "sigterm") as container:
        container.wait_serving()
        answers: list[int] = []

        def slow_request() -> None:
            headers = {**WEPAY_HEADERS, "Prefer": "delay=2500"}
            answers.append(httpx.get(f"{container.url}/billing_statements", headers=headers, timeout=20).status_code)

        request = threading.Thread(target=slow_request)
        request.start()
        time.sleep(1.0)  # the request is in flight (sent at once, answered after 2.5 s)
        took = _stop(podman, container)
        request.join(timeout=20)
        assert answers == [200]
        assert podman.inspect(container.name, "{{.State.ExitCode}}") == "0", container.logs()[-2000:]
        assert took < 10, f"stopped after {took:.1f} s: the SIGKILL did it, not the SIGTERM"
        assert "Finished server process [1]" in container.logs()


def _catches_sigterm(pid: int) -> bool:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (signal.SIGTERM - 1) & 1)
    return False


def test_sigterm_during_start_up_stops_at_once(podman: Podman, image: Image) -> None:
    """PID 1 gets no default action for SIGTERM: without its own handler, a stop while the mock still builds
    its dataset would wait for the SIGKILL. A million records keep it in start-up for seconds."""
    with started(podman, image, "startup", {ENV_PREFIX + "RECORDS": "1000000"}) as container:
        pid = int(podman.inspect(container.name, "{{.State.Pid}}"))
        deadline = time.monotonic() + 30
        while not _catches_sigterm(pid):  # the interpreter is up and billing-mock's handler installed
            assert time.monotonic() < deadline and container.running(), container.logs()[-2000:]
            time.sleep(0.02)
        took = _stop(podman, container)
        logs = container.logs()
        assert "billing-mock on" not in logs, "stopped after start-up, not during it: the test proves nothing"
        assert podman.inspect(container.name, "{{.State.ExitCode}}") == "0", logs[-2000:]
        assert took < 5, f"stopped after {took:.1f} s"
