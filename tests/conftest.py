"""Shared fixtures: the contract, the mock in process and over a real socket, and a contract-checking
client for each (every response a test receives is validated against the spec with openapi-core)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from starlette.testclient import TestClient

from billing_contract.spec import Spec, load_spec
from mock_server import MockApp, MockConfig, create_app
from mock_server.testing import RunningMock, running_mock
from tests.openapi_check import ContractValidator, validating_hook
from tests.support import MOCK_SUITE_ENV


@pytest.fixture(autouse=True)
def suite_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite has no default credentials: every test's CLI runs (in process or as a subprocess, which
    inherits the environment) get the default mock's through the suite's own variables."""
    for name, value in MOCK_SUITE_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="session")
def spec() -> Spec:
    return load_spec()


@pytest.fixture(scope="session")
def contract(spec: Spec) -> ContractValidator:
    return ContractValidator(spec)


@pytest.fixture(scope="session")
def mock_app() -> MockApp:
    return create_app(MockConfig())


@pytest.fixture(scope="session")
def live_mock(mock_app: MockApp) -> Iterator[RunningMock]:
    with running_mock(MockConfig()) as mock:
        yield mock


@pytest.fixture(scope="module")
def mock() -> Iterator[RunningMock]:
    """The default mock over a real socket, one per test module, so that modules abusing it stay apart."""
    with running_mock(MockConfig()) as running:
        yield running


@pytest.fixture(params=["in-process", "socket"])
def api(request: pytest.FixtureRequest, mock_app: MockApp, contract: ContractValidator) -> Iterator[httpx.Client]:
    """An httpx client on the default mock, in process or over uvicorn; responses are contract-checked."""
    hooks = {"response": [validating_hook(contract)]}
    if request.param == "in-process":
        with TestClient(mock_app, base_url="http://testserver") as client:
            client.event_hooks = hooks
            yield client
    else:
        live: RunningMock = request.getfixturevalue("live_mock")
        with httpx.Client(base_url=live.url, event_hooks=hooks, timeout=10) as client:
            yield client


@pytest.fixture(scope="session")
def mifumo_auth(mock_app: MockApp) -> dict[str, str]:
    return {"Authorization": f"Bearer {mock_app.state.credentials.bearer_token}"}


@pytest.fixture(scope="session")
def wepay_auth(mock_app: MockApp) -> dict[str, str]:
    creds = mock_app.state.credentials
    return {"App-Id": creds.app_id, "App-Token": creds.app_token, "Api-Version": "3.0"}
