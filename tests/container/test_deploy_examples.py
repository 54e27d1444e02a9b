"""The deploy/ examples agree with the code and the image: well-formed YAML; every BILLING_MOCK_* variable
is one billing-mock reads (through its own parser), every BILLING_* one the suite reads; ports, user and
health path are the Dockerfile's and the mock's. Where podman is present, each example also runs: the
compose services on the image, and the Kubernetes Deployment's pod as two replicas."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from conformance.config import config_from_options
from conformance.options import OPTIONS
from fixtures import load_dataset
from mock_server.cli import ENV_PREFIX, config_from_environment, serve_settings
from mock_server.testing import RunningMock, free_port
from tests.container.conftest import HEALTH_PATH, Container, Image, started
from tests.container.dockerfile import parse
from tests.container.podman import Podman, env_args

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
KUBERNETES = DEPLOY / "kubernetes.yaml"
SUITE_VARIABLES = {option.env_var for option in OPTIONS} | {"BILLING_JUNIT_XML"}
IMAGE_PORT = parse().final.exposed_ports[0]


def _interpolate(value: str) -> str:
    """Compose's `${NAME:-default}` with NAME unset, as on a machine that sets nothing."""
    return re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", value)


def _mock_reads(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> argparse.Namespace:
    """billing-mock's parsed settings with exactly these BILLING_MOCK_* variables set: each must land on the
    flag it names, with its value (a variable the code does not read would be silently ignored)."""
    for name in [name for name in os.environ if name.startswith(ENV_PREFIX)]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        assert name.startswith(ENV_PREFIX), name
        monkeypatch.setenv(name, value)
    args = serve_settings()
    for name, value in env.items():
        dest = name[len(ENV_PREFIX) :].lower()
        assert hasattr(args, dest), f"{name}: billing-mock has no --{dest.replace('_', '-')}"
        assert str(getattr(args, dest)) == value, f"{name}={value!r} read as {getattr(args, dest)!r}"
    config_from_environment()  # valid values, as start-up checks them
    return args


# --- compose -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(document, dict) and isinstance(document.get("services"), dict)
    return document


def _service_env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    assert isinstance(env, dict), "environment as a map"
    return {key: _interpolate(str(value)) for key, value in env.items()}


def _mock_service(compose: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The service running the image's default command (the mock); every service built from the
    repository builds the same image."""
    built = {name: service for name, service in compose["services"].items() if "build" in service}
    for service in built.values():
        assert (COMPOSE.parent / service["build"]["context"]).resolve() == ROOT
    assert len({service["image"] for service in built.values()}) == 1, "one image"
    (mock,) = [(name, service) for name, service in built.items() if "command" not in service]
    return mock


def test_compose_mock_service_is_the_image_configured_by_variables_it_reads(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, mock = _mock_service(compose)
    context = (COMPOSE.parent / mock["build"]["context"]).resolve()
    assert context == ROOT and (context / "Dockerfile").is_file()
    published = [str(port).rsplit(":", 1)[-1] for port in mock["ports"]]
    assert published == [str(IMAGE_PORT)]
    env = _service_env(mock)
    args = _mock_reads(monkeypatch, env)
    assert args.port == IMAGE_PORT  # the image's BILLING_MOCK_PORT, left as it is
    assert "test" not in mock["healthcheck"], "the image's own health check, only run more often"
    _, command = parse().final.healthcheck
    assert HEALTH_PATH in " ".join(command) and "BILLING_MOCK_PORT" in " ".join(command)


def test_compose_client_and_suite_reach_the_mock_service_with_its_credentials(compose: dict[str, Any]) -> None:
    name, mock = _mock_service(compose)
    mock_env = _service_env(mock)
    url = f"http://{name}:{IMAGE_PORT}"
    for other, service in compose["services"].items():
        if other == name:
            continue
        assert service["depends_on"][name]["condition"] == "service_healthy"
        env = _service_env(service)
        urls = [value for value in env.values() if value.startswith("http")]
        assert urls and all(value == url for value in urls), env
        secrets = {value for key, value in env.items() if "TOKEN" in key or key.endswith("APP_ID")}
        assert secrets <= set(mock_env.values()), f"{other}: credentials the mock is not given"
    suite = compose["services"]["conformance"]
    assert suite["image"] == mock["image"] and suite["command"][0] == "billing-conformance"
    env = _service_env(suite)
    assert set(env) <= SUITE_VARIABLES, set(env) - SUITE_VARIABLES
    config_from_options({}, env)  # a usable configuration: targets and their credentials


# --- Kubernetes ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kubernetes() -> dict[str, dict[str, Any]]:
    documents = [doc for doc in yaml.safe_load_all(KUBERNETES.read_text(encoding="utf-8")) if doc]
    by_kind = {doc["kind"]: doc for doc in documents}
    assert sorted(by_kind) == ["ConfigMap", "Deployment", "Service"] and len(documents) == 3
    return by_kind


def _pod(kubernetes: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    spec = kubernetes["Deployment"]["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    return spec, container


def _secret_token(reference: dict[str, Any]) -> tuple[str, str]:
    secret = reference["valueFrom"]["secretKeyRef"]
    return secret["name"], secret["key"]


def _pod_env(container: dict[str, Any], admin_token: str) -> dict[str, str]:
    env = {}
    for item in container["env"]:
        env[item["name"]] = item.get("value", admin_token)  # the one valueFrom is the Secret's token
    return env


def test_kubernetes_deployment_runs_two_replicas_of_the_same_data_behind_the_service(
    kubernetes: dict[str, dict[str, Any]],
) -> None:
    deployment = kubernetes["Deployment"]
    assert deployment["spec"]["replicas"] == 2
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = kubernetes["Service"]["spec"]
    assert service["selector"].items() <= labels.items()
    _, container = _pod(kubernetes)
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    (target,) = (port["targetPort"] for port in service["ports"])
    assert ports.get(target, target) == IMAGE_PORT, "the Service reaches the image's port"
    for probe in ("readinessProbe", "livenessProbe"):
        get = container[probe]["httpGet"]
        assert get["path"] == HEALTH_PATH and ports.get(get["port"], get["port"]) == IMAGE_PORT, probe


def test_kubernetes_pod_is_configured_by_variables_the_mock_reads(
    kubernetes: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pod, container = _pod(kubernetes)
    secret_refs = [item for item in container["env"] if "valueFrom" in item]
    assert [item["name"] for item in secret_refs] == [ENV_PREFIX + "ADMIN_TOKEN"], "the admin token, from a Secret"
    name, key = _secret_token(secret_refs[0])
    created = re.search(r"kubectl create secret generic (\S+) --from-literal=(\w+)=", KUBERNETES.read_text())
    assert created and created.groups() == (name, key), "the instructions create the Secret the pod reads"
    args = _mock_reads(monkeypatch, _pod_env(container, "a-token-from-the-secret"))
    assert args.port == IMAGE_PORT and args.seed is not None

    # The fixtures file is the ConfigMap's, mounted where BILLING_MOCK_FIXTURES points, and valid.
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert {mount["name"] for mount in container["volumeMounts"]} == set(volumes)
    (mount,) = (mount for mount in container["volumeMounts"] if "configMap" in volumes[mount["name"]])
    assert volumes[mount["name"]]["configMap"]["name"] == kubernetes["ConfigMap"]["metadata"]["name"]
    fixtures = Path(str(args.fixtures))
    assert fixtures.parent == Path(mount["mountPath"])
    data = kubernetes["ConfigMap"]["data"]
    assert fixtures.name in data
    (tmp_path / fixtures.name).write_text(data[fixtures.name], encoding="utf-8")
    dataset = load_dataset(tmp_path / fixtures.name)
    assert dataset.fingerprint()

    user, group = parse().final.user.split(":")
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (int(user), int(group))
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_health_path_of_the_examples_is_served_by_the_mock(mock: RunningMock) -> None:
    response = httpx.get(f"{mock.url}{HEALTH_PATH}")
    assert response.status_code == 200 and response.json()["status"] == "ok"


# --- the examples, run on the image (podman) -------------------------------------------------------------


def _on_host(value: str, host: str, port: int) -> str:
    """A compose service URL as the host's network sees the container (host:port -> 127.0.0.1:free port)."""
    return value.replace(f"http://{host}:{IMAGE_PORT}", f"http://127.0.0.1:{port}")


def test_compose_example_runs_the_client_settings_and_the_suite_against_the_mock(
    compose: dict[str, Any], podman: Podman, image: Image
) -> None:
    name, mock = _mock_service(compose)
    port = free_port()
    env = {**_service_env(mock), ENV_PREFIX + "PORT": str(port)}
    with started(podman, image, "compose", env) as container:
        container.wait_serving()
        client = {
            key: _on_host(value, name, port) for key, value in _service_env(compose["services"]["client-app"]).items()
        }
        history = httpx.get(
            f"{client['MIFUMO_BASE_URL']}/api/billing/history/",
            headers={"Authorization": f"Bearer {client['MIFUMO_BEARER_TOKEN']}"},
        )
        assert history.status_code == 200, history.text
        wepay = {"App-Id": client["WEPAY_APP_ID"], "App-Token": client["WEPAY_APP_TOKEN"], "Api-Version": "3.0"}
        assert httpx.get(f"{client['WEPAY_BASE_URL']}/billing_statements", headers=wepay).status_code == 200

        service = compose["services"]["conformance"]
        suite_env = {key: _on_host(value, name, port) for key, value in _service_env(service).items()}
        suite = podman.run(
            "run", "--rm", "--network", "host", "--no-healthcheck", *env_args(suite_env), image.name,
            *service["command"], timeout=300, check=False,
        )  # fmt: skip
        assert suite.returncode == 0, suite.stdout[-3000:] + suite.stderr[-3000:]


@pytest.fixture
def replicas(
    kubernetes: dict[str, dict[str, Any]], podman: Podman, image: Image, tmp_path: Path
) -> Iterator[tuple[list[Container], str]]:
    """The Deployment's pod as podman containers: its env (the Secret's token), the ConfigMap mounted
    read-only where it says, its user, a read-only root filesystem and no capabilities; one free port each."""
    pod, container = _pod(kubernetes)
    token = "replica-admin-token-" + os.urandom(8).hex()
    extra = [
        "--user", f"{pod['securityContext']['runAsUser']}:{pod['securityContext']['runAsGroup']}",
        "--cap-drop", "ALL",
        "--security-opt", "no-new-privileges",
    ]  # fmt: skip
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True and security["capabilities"]["drop"] == ["ALL"]
    extra += ["--read-only", "--read-only-tmpfs=false"]  # as Kubernetes does it: no writable /tmp of podman's
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    for mount in container["volumeMounts"]:
        volume = volumes[mount["name"]]
        if "configMap" in volume:
            config_dir = tmp_path / mount["name"]
            config_dir.mkdir()
            for key, text in kubernetes["ConfigMap"]["data"].items():
                (config_dir / key).write_text(text, encoding="utf-8")
            config_dir.chmod(0o755)
            extra += ["--volume", f"{config_dir}:{mount['mountPath']}:ro"]
        else:
            assert "emptyDir" in volume, volume
            extra += ["--tmpfs", f"{mount['mountPath']}:rw,mode=1777"]  # an emptyDir is writable by all
    env = _pod_env(container, token)
    assert kubernetes["Deployment"]["spec"]["replicas"] == 2
    with (
        started(podman, image, "replica-a", {**env, ENV_PREFIX + "PORT": str(free_port())}, extra) as first,
        started(podman, image, "replica-b", {**env, ENV_PREFIX + "PORT": str(free_port())}, extra) as second,
    ):
        for replica in (first, second):
            replica.wait_serving()
        yield [first, second], token


def test_kubernetes_replicas_share_data_and_cursors_and_admin_changes_stay_on_one(
    replicas: tuple[list[Container], str],
) -> None:
    (first, second), token = replicas
    # Same seed and fixtures: the same dataset on both, from the ConfigMap.
    datasets = [httpx.get(f"{replica.url}/__mock/dataset").json() for replica in (first, second)]
    assert datasets[0] == datasets[1] and datasets[0]["wepay"]["statements"] == 3, datasets

    # A cursor one replica issued is accepted by the other, and leads to the same page.
    headers = {"App-Id": "mock-app-id", "App-Token": "mock-app-token", "Api-Version": "3.0"}
    page = httpx.get(f"{first.url}/billing_statements", params={"page_size": 2}, headers=headers).json()
    assert page["next"], page
    answers = [httpx.get(f"{replica.url}{page['next']}", headers=headers) for replica in (first, second)]
    assert [answer.status_code for answer in answers] == [200, 200]
    assert answers[0].json() == answers[1].json() and len(answers[0].json()["results"]) == 1

    # The tooling API's changes need the Secret's token, and reach only the replica that took the call.
    reset = f"{first.url}/__mock/dataset/reset"
    assert httpx.post(reset, json={"seed": 7, "statements": 5}).status_code == 401
    changed = httpx.post(reset, json={"seed": 7, "statements": 5}, headers={"Authorization": f"Bearer {token}"})
    assert changed.status_code == 200, changed.text
    after = [httpx.get(f"{replica.url}/__mock/dataset").json() for replica in (first, second)]
    assert after[0]["wepay"]["statements"] == 5 and after[1] == datasets[1]
