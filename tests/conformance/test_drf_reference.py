"""The suite against the framework Mifumo runs on: a Django REST Framework app built from DRF's own classes
(tests/reference) is conformant in every configuration a real deployment may have, and each broken DRF
variant is caught by the check meant for it.

What the reference's own request log shows is the proof that a passed check exercised what it claims: a
check that sent nothing of what it is about would pass vacuously."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest

from conformance import Status, SuiteConfig, SuiteReport, run_suite
from conformance.render import render
from tests.reference.running import Reference, running_drf_reference

Entry = dict[str, Any]

# (time zone, type filter): UTC and a non-UTC zone; django-filter's ChoiceFilter and a serializer's ChoiceField.
CONFIGURATIONS = [("UTC", "filterset"), ("Africa/Dar_es_Salaam", "serializer"), ("Africa/Dar_es_Salaam", "filterset")]


def _query(entry: Entry) -> dict[str, list[str]]:
    return parse_qs(entry["query"], keep_blank_values=True)


def _sent(predicate: Callable[[Entry, dict[str, list[str]]], bool]) -> Callable[[list[Entry]], bool]:
    return lambda log: any(predicate(entry, _query(entry)) for entry in log)


def _walked_back_with(name: str) -> Callable[[list[Entry]], bool]:
    """A filter walked in small pages: page 2 or later with the filter, and page 1 of it reached again by a
    `previous` link (no `page`), more than once per value."""

    def seen(log: list[Entry]) -> bool:
        with_filter = [_query(e) for e in log if e["status"] == 200 and name in _query(e)]
        deep = {q[name][-1] for q in with_filter if q.get("page", ["1"])[-1] not in ("1", "")}
        return bool(deep) and all(sum(1 for q in with_filter if q[name][-1] == v) >= 3 for v in deep)

    return seen


# What each semantic check must have sent (and got) for its pass to mean something.
EVIDENCE: dict[str, Callable[[list[Entry]], bool]] = {
    "mifumo_page_shape": _sent(lambda e, q: e["status"] == 200 and not q),
    "mifumo_pagination_integrity": _sent(lambda e, q: e["status"] == 200 and "page" in q and "page_size" in q),
    "mifumo_previous_retraces": _sent(lambda e, q: e["status"] == 200 and "page_size" in q and "page" not in q),
    "mifumo_page_size": lambda log: all(
        _sent(lambda e, q, v=value: e["status"] == 200 and q.get("page_size") == [v])(log)
        for value in ("101", "0", "-1", "", "abc")
    ),
    "mifumo_param_errors": _sent(lambda e, q: e["status"] == 400 and q.get("type") == ["refund"]),
    "mifumo_invalid_page": lambda log: all(
        _sent(lambda e, q, p=page, s=status: e["status"] == s and q.get("page") == [p])(log)
        for page, status in (("0", 404), ("-1", 404), ("abc", 404), ("", 200))
    ),
    "mifumo_auth_errors": lambda log: sum(1 for e in log if e["status"] == 401) >= 5,
    "mifumo_filter_matches": _walked_back_with("type"),
    "mifumo_filter_counts": lambda log: all(
        _sent(lambda e, q, t=kind: e["status"] == 200 and q.get("type") == [t])(log)
        for kind in ("purchase", "payment", "usage")
    ),
    "mifumo_link_form": _sent(lambda e, q: e["status"] == 200 and "conformance_probe" in q and q.get("page") == ["2"]),
    "mifumo_unknown_params_ignored": _sent(lambda e, q: e["status"] == 200 and "conformance_probe" in q),
    "mifumo_order": _sent(lambda e, q: e["status"] == 200 and "page" in q),
    "mifumo_values": _sent(lambda e, q: e["status"] == 200 and "page" in q),
}


@pytest.fixture(scope="module", params=CONFIGURATIONS, ids=[f"{zone}-{kind}" for zone, kind in CONFIGURATIONS])
def conformant_run(request: pytest.FixtureRequest) -> Iterator[tuple[SuiteReport, list[Entry]]]:
    zone, type_filter = request.param
    with running_drf_reference(time_zone=zone, type_filter=type_filter) as reference:
        report = run_suite(_config(reference))
        yield report, reference.requests()


def _config(reference: Reference, **extra: Any) -> Any:
    return SuiteConfig(mifumo_url=reference.url, bearer_token=reference.token, **extra)


def test_the_drf_reference_is_conformant(conformant_run: tuple[SuiteReport, list[Entry]]) -> None:
    report, _ = conformant_run
    assert report.passed, render(report)
    assert not [r for r in report.results if r.status is Status.BLOCKED]


def test_each_passed_check_exercised_what_it_claims(conformant_run: tuple[SuiteReport, list[Entry]]) -> None:
    report, log = conformant_run
    passed = {r.check for r in report.results if r.status is Status.PASSED and r.kind == "semantic"}
    assert passed == set(EVIDENCE), passed ^ set(EVIDENCE)
    unexercised = [check for check in sorted(passed) if not EVIDENCE[check](log)]
    assert not unexercised, unexercised


def test_the_non_utc_zone_really_renders_an_offset() -> None:
    """The configuration the contract had wrong: DRF renders created_at in the server's zone."""
    import httpx

    with running_drf_reference(time_zone="Africa/Dar_es_Salaam", records=3) as reference:
        body = httpx.get(f"{reference.url}/api/billing/history/", headers=reference.headers, timeout=10).json()
    assert body["results"] and all(r["created_at"].endswith("+03:00") for r in body["results"])


# Each broken DRF variant, and the check meant to catch it.
BROKEN = {
    "limit-offset": "mifumo_link_form",  # LimitOffsetPagination: offset/limit links, `page` ignored
    "type-ignored": "mifumo_filter_matches",
    "wrong-count": "mifumo_pagination_integrity",
    "next-drops-type": "mifumo_filter_matches",  # page 1 filtered, the pages its `next` leads to not
    "no-auth": "mifumo_auth_errors",
    "empty-past-end": "mifumo_invalid_page",
}


@pytest.mark.parametrize(("variant", "caught_by"), BROKEN.items(), ids=BROKEN.keys())
def test_a_broken_drf_variant_is_caught_by_its_check(variant: str, caught_by: str) -> None:
    with running_drf_reference(variant=variant, records=60) as reference:
        report = run_suite(_config(reference, schema_checks=False, max_pages=30))
    failed = report.failed_checks()
    assert caught_by in failed, f"{variant}: expected {caught_by} to fail; failed: {sorted(failed)}\n{render(report)}"
    assert report.exit_code == 1
