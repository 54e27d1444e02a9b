"""Each broken implementation is caught, and caught by the check meant for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance import run_suite
from mock_server import MockConfig, create_app
from mock_server.app import MockApp
from mock_server.testing import serve_in_thread
from tests.broken.asgi import Broken
from tests.broken.impls import BROKEN, BrokenImpl
from tests.support import suite_config


@pytest.fixture(scope="module")
def mock_app() -> Iterator[MockApp]:
    # The mock is stateless per request, so one instance serves every broken wrapper.
    yield create_app(MockConfig(seed=7))


@pytest.mark.parametrize("impl", BROKEN, ids=[b.name for b in BROKEN])
def test_broken_implementation_is_caught_by_its_check(impl: BrokenImpl, mock_app: MockApp) -> None:
    with serve_in_thread(Broken(mock_app, impl.handler)) as url:
        config = suite_config(
            **{f"{impl.api}_url": url},
            schema_checks=impl.schema,
            max_examples=10,
            max_pages=30,
        )
        report = run_suite(config)
    failed = report.failed_checks()
    assert impl.caught_by in failed, f"{impl.name}: expected {impl.caught_by} to fail, failed: {sorted(failed)}"
    failure = next(r for r in report.failures if r.check == impl.caught_by)
    assert failure.message
    assert failure.curl.startswith("curl")


def test_catalogue_is_wide_enough() -> None:
    assert len(BROKEN) >= 15
    assert len({b.name for b in BROKEN}) == len(BROKEN)
    assert len({b.caught_by for b in BROKEN}) >= 15
