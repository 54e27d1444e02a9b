"""pytest fixture for client teams: the mock on a free port, over a real socket, per test.

    def test_client_handles_throttling(billing_mock):
        client = MyWePayClient(base_url=billing_mock.url, **billing_mock.credentials...)

    @pytest.mark.billing_mock(seed=7, controls=ControlSettings(rate_limit=True))
    def test_other_seed(billing_mock): ...

The marker's keywords are `MockConfig` fields, plus `dataset=` (a `fixtures.Dataset`).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mock_server.config import MockConfig
from mock_server.testing import RunningMock, running_mock


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "billing_mock(**options): configure the billing_mock fixture (MockConfig fields)"
    )


@pytest.fixture
def billing_mock(request: pytest.FixtureRequest) -> Iterator[RunningMock]:
    marker = request.node.get_closest_marker("billing_mock")
    options = dict(marker.kwargs) if marker else {}
    dataset = options.pop("dataset", None)
    with running_mock(MockConfig(**options), dataset) as mock:
        yield mock
