"""Each conformant variant passes, at the suite's default settings, for more than one dataset and seed:
the mirror of tests/conformance/test_broken.py (a check failing one asserts more than the spec states)."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import httpx
import pytest

from conformance import run_suite
from conformance.render import render
from mock_server import MockConfig, create_app
from mock_server.testing import serve_in_thread
from tests.broken.asgi import Broken, Call, Reply, Request
from tests.conformant.impls import CONFORMANT, Variant
from tests.support import MOCK_CREDENTIALS, suite_config

# (the mock's dataset seed, the suite's seed): two datasets, two sets of generated cases.
SEEDS = [(7, 20240611), (20251201, 11)]


@pytest.mark.parametrize("seeds", SEEDS, ids=[f"data{d}-suite{s}" for d, s in SEEDS])
@pytest.mark.parametrize("variant", CONFORMANT, ids=[v.name for v in CONFORMANT])
def test_conformant_variant_passes(variant: Variant, seeds: tuple[int, int]) -> None:
    data_seed, suite_seed = seeds
    app = Broken(create_app(MockConfig(seed=data_seed)), variant.handler)
    with serve_in_thread(app) as inner, variant.serve(inner) as url:
        report = run_suite(suite_config(**{f"{variant.api}_url": url}, seed=suite_seed))
    assert report.passed, f"{variant.name} ({variant.why}) was failed:\n{render(report)}"
    assert report.results


def test_catalogue_is_wide_enough() -> None:
    assert len(CONFORMANT) >= 15
    assert len({v.name for v in CONFORMANT}) == len(CONFORMANT)
    assert {v.api for v in CONFORMANT} == {"mifumo", "wepay"}


def _answers(url: str) -> list[tuple[int, list[tuple[bytes, bytes]], bytes]]:
    """A fixed set of exchanges covering what the variants change, as raw status, headers and body."""
    mifumo = {"Authorization": f"Bearer {MOCK_CREDENTIALS.bearer_token}"}
    wepay = {"App-Id": MOCK_CREDENTIALS.app_id, "App-Token": MOCK_CREDENTIALS.app_token, "Api-Version": "3.0"}
    answers = []
    with httpx.Client(base_url=url, timeout=10) as client:
        first = client.get("/billing_statements", params={"page_size": 1}, headers=wepay).json()
        cursor = first["next"].split("page=", 1)[1]
        ident = first["results"][0]["id"]
        requests: list[tuple[str, str, dict[str, Any], dict[str, str]]] = [
            ("GET", "/api/billing/history/", {"page": 2, "page_size": 2}, mifumo),
            ("GET", "/api/billing/history/", {"page_size": 101}, mifumo),
            ("GET", "/api/billing/history/", {}, {"Authorization": "Bearer nope"}),
            ("HEAD", "/api/billing/history/", {}, mifumo),
            ("OPTIONS", "/api/billing/history/", {}, mifumo),
            ("GET", "/billing_statements", {"currency": "CAD"}, wepay),
            ("GET", "/billing_statements", {"page": cursor, "page_size": 1}, wepay),
            ("GET", "/billing_statements", {"page_size": 0}, wepay),
            ("GET", f"/billing_statements/{ident}", {}, wepay),
            ("GET", "/billing_statements/no-such-id", {}, wepay),
            ("HEAD", "/billing_statements", {}, wepay),
        ]
        for method, path, params, headers in requests:
            response = client.request(method, path, params=params, headers=headers)
            skip = (b"date", b"x-correlation-id", b"server")
            raw = sorted((k, v) for k, v in response.headers.raw if k.lower() not in skip)
            # Mifumo's links name the server they were asked on: the same answer from another port is equal.
            answers.append((response.status_code, raw, response.content.replace(url.encode(), b"<base>")))
    return answers


async def _unchanged(request: Request, call: Call) -> Reply:
    return await call(request)


@pytest.mark.parametrize("variant", [*CONFORMANT, None], ids=[*(v.name for v in CONFORMANT), "the-mock-itself"])
def test_conformant_variant_differs_from_the_mock(variant: Variant | None) -> None:
    # A variant answering as the mock does would prove nothing (and the comparison itself is checked
    # on a wrapper that changes nothing).
    app = create_app(MockConfig(seed=7))
    handler = variant.handler if variant else _unchanged
    front = variant.serve if variant else nullcontext
    with serve_in_thread(app) as plain, serve_in_thread(Broken(app, handler)) as inner, front(inner) as changed:
        assert (_answers(plain) != _answers(changed)) is (variant is not None)
