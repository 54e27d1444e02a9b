"""pytest fixture for client teams: the mock on a free port, over a real socket, per test.

    def test_client_handles_throttling(billing_mock):
        client = MyWePayClient(base_url=billing_mock.url, **billing_mock.credentials...)

    @pytest.mark.billing_mock(seed=7, controls=ControlSettings(rate_limit=True))
    def test_other_seed(billing_mock): ...

The marker's keywords are `MockConfig` fields, plus `dataset=` (a `fixtures.Dataset`).

Installed, the plugin is loaded by every pytest run in the environment: the mock (connexion, Starlette,
uvicorn) is imported when a test asks for the fixture, never at pytest's start.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from mock_server.testing import RunningMock


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "billing_mock(**options): configure the billing_mock fixture (MockConfig fields)"
    )


@pytest.fixture
def billing_mock(request: pytest.FixtureRequest) -> Iterator[RunningMock]:
    from mock_server.config import MockConfig
    from mock_server.testing import running_mock

    marker = request.node.get_closest_marker("billing_mock")
    options = dict(marker.kwargs) if marker else {}
    dataset = options.pop("dataset", None)
    with running_mock(MockConfig(**options), dataset) as mock:
        yield mock
