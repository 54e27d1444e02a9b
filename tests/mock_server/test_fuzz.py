"""Schemathesis against the mock over a real socket: every check, positive and negative data, every
phase. CI runs a reduced count (>= 1,000 cases); `python -m tests.hardening.fuzz` runs >= 10,000."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from schemathesis.generation import GenerationMode

from mock_server.testing import RunningMock
from tests.hardening import fuzz

ROOT = Path(__file__).resolve().parents[2]
CI_FUZZ_CASES = int(os.environ.get("BILLING_FUZZ_CASES", "1000"))


def _headers(mock: RunningMock) -> dict[str, str]:
    c = mock.credentials
    return fuzz.credential_headers(c.bearer_token, c.app_id, c.app_token)


@pytest.mark.slow
def test_schemathesis_finds_nothing(mock: RunningMock) -> None:
    result = fuzz.run_fuzz(mock.url, _headers(mock), cases=CI_FUZZ_CASES, seed=20251201)
    print(result.summary())
    assert result.ok, "\n".join(result.failures + result.errors)
    assert result.cases >= CI_FUZZ_CASES, result.summary()
    assert result.stop_reason == "completed", result.summary()


def test_every_check_and_both_modes_are_enabled(mock: RunningMock) -> None:
    schema = fuzz.load_schema(mock.url, _headers(mock), cases=30, seed=1)
    operation = schema["/billing_statements"]["GET"]
    checks = schema.config.checks_config_for(operation=operation, phase="fuzzing")
    disabled = [
        name
        for name in (
            "not_a_server_error",
            "status_code_conformance",
            "content_type_conformance",
            "response_headers_conformance",
            "response_schema_conformance",
            "negative_data_rejection",
            "positive_data_acceptance",
            "missing_required_header",
            "unsupported_method",
            "ignored_auth",
            "use_after_free",
            "ensure_resource_availability",
        )
        if not checks.get_by_name(name=name).enabled
    ]
    assert not disabled
    modes = schema.config.generation_for(operation=operation, phase="fuzzing").modes
    assert set(modes) == {GenerationMode.POSITIVE, GenerationMode.NEGATIVE}


def test_only_issued_cursors_look_issued(mock: RunningMock) -> None:
    body = httpx.get(f"{mock.url}/billing_statements?page_size=1", headers=mock.wepay_headers).json()
    issued = body["next"].split("page=", 1)[1]
    assert fuzz.looks_issued(issued)
    for generated in ("", "0", "aaabc123def456", "a.b", "e30.e30", "....", "\x00", "eyJvIjoxfQ.x."):
        assert not fuzz.looks_issued(generated), generated


class _Meta:
    def __init__(self, mode: GenerationMode) -> None:
        self.generation = type("Generation", (), {"mode": mode})()


class _Case:
    def __init__(self, query: dict[str, object], mode: GenerationMode | None) -> None:
        self.query = query
        self.meta = None if mode is None else _Meta(mode)


def test_fit_cursor_drops_generated_cursors_from_positive_cases_only(mock: RunningMock) -> None:
    body = httpx.get(f"{mock.url}/billing_statements?page_size=1", headers=mock.wepay_headers).json()
    issued = body["next"].split("page=", 1)[1]
    positive = fuzz.fit_cursor(_Case({"page": "xyz", "page_size": 3}, GenerationMode.POSITIVE))
    assert positive.query == {"page_size": 3}
    replayed = fuzz.fit_cursor(_Case({"page": issued, "page_size": 3, "currency": "USD"}, None))
    assert replayed.query == {"page": issued}
    negative = fuzz.fit_cursor(_Case({"page": "xyz", "page_size": 3}, GenerationMode.NEGATIVE))
    assert negative.query == {"page": "xyz", "page_size": 3}
