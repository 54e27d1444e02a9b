"""pytest plugin (entry point `billing_conformance`): inert unless `--conformance-mifumo-url` or
`--conformance-wepay-url` is given; then it adds one test per check and the `conformance_report` fixture.

    pytest -p billing_conformance --conformance-wepay-url http://127.0.0.1:4010 [--conformance-timeout S]
           [--conformance-deadline S] [--conformance-max-rate N] [--conformance-exclude-check NAME ...]
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.config import APIS, DEFAULT_MAX_EXAMPLES, DEFAULT_SEED, SuiteConfig, UsageError
from conformance.registry import checks_for
from conformance.report import CheckResult, Status, SuiteReport
from conformance.runner import run_suite

_OPTIONS: tuple[tuple[str, str, Any, type], ...] = (
    ("mifumo-url", "Mifumo base URL to test", None, str),
    ("wepay-url", "WePay base URL to test", None, str),
    ("bearer-token", "Mifumo bearer token", None, str),
    ("app-id", "WePay App-Id", None, str),
    ("app-token", "WePay App-Token", None, str),
    ("api-version", "WePay Api-Version", None, str),
    ("seed", "Schemathesis seed", DEFAULT_SEED, int),
    ("max-examples", "Schemathesis examples per operation", DEFAULT_MAX_EXAMPLES, int),
    ("timeout", "seconds per request", 10.0, float),
    ("deadline", "seconds for the whole run; checks not run by then fail", None, float),
    ("max-rate", "at most N requests in any second", None, float),
)
_REPORT_KEY = pytest.StashKey[SuiteReport]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("billing-conformance", "billing API conformance suite")
    for name, help_text, default, kind in _OPTIONS:
        group.addoption(f"--conformance-{name}", default=default, type=kind, help=help_text)
    group.addoption(
        "--conformance-exclude-check", action="append", default=[], metavar="NAME", help="skip a check (repeatable)"
    )


def _option(config: pytest.Config, name: str) -> Any:
    return config.getoption(f"conformance_{name.replace('-', '_')}")


def suite_config(config: pytest.Config) -> SuiteConfig | None:
    """The suite's config from the command line, or None when no target was given (plugin stays inert)."""
    if not (_option(config, "mifumo-url") or _option(config, "wepay-url")):
        return None
    given = {name.replace("-", "_"): _option(config, name) for name, *_ in _OPTIONS}
    excluded = {name for item in _option(config, "exclude-check") for name in item.split(",") if name}
    try:
        return SuiteConfig(
            **{key: value for key, value in given.items() if value is not None}, exclude_checks=frozenset(excluded)
        )
    except UsageError as exc:
        raise pytest.UsageError(f"billing-conformance: {exc}") from None


def _report(config: pytest.Config) -> SuiteReport:
    if _REPORT_KEY not in config.stash:
        suite = suite_config(config)
        assert suite is not None
        config.stash[_REPORT_KEY] = run_suite(suite)
    return config.stash[_REPORT_KEY]


@pytest.fixture(scope="session")
def conformance_report(request: pytest.FixtureRequest) -> SuiteReport:
    """The suite's report for the targets given on the command line (skips the test when none is)."""
    if suite_config(request.config) is None:
        pytest.skip("no --conformance-mifumo-url / --conformance-wepay-url given")
    return _report(request.config)


class ConformanceItem(pytest.Item):
    """One test per semantic check, plus one per API for all its Schemathesis checks."""

    def __init__(self, *, api: str, check: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.api = api
        self.check = check

    def _results(self) -> list[CheckResult]:
        results = [r for r in _report(self.config).results if r.api == self.api]
        if self.check is None:
            return [r for r in results if r.kind == "schema"]
        return [r for r in results if r.check == self.check]

    def runtest(self) -> None:
        results = self._results()
        failures = [r for r in results if r.status is Status.FAILED]
        if failures:
            raise AssertionError(
                "\n\n".join(
                    f"{r.check} on {r.operation}: {r.message}\n  expected: {r.expected}\n  got: {r.got}\n  {r.curl}"
                    for r in failures
                )
            )
        cut_short = [r for r in results if r.status is Status.SKIPPED and "deadline" in r.message]
        if cut_short:  # not run is not passed: the CLI exits 1 when the deadline is reached
            raise AssertionError("; ".join(sorted({f"{r.check}: {r.message}" for r in cut_short})))
        if results and all(r.status is Status.SKIPPED for r in results):
            pytest.skip("; ".join(r.message for r in results))

    def reportinfo(self) -> tuple[str, int, str]:
        return "billing-conformance", 0, self.name


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    suite = suite_config(config)
    if suite is None:
        return
    for api in APIS:
        if api not in suite.apis:
            continue
        names: list[str | None] = [None, *(c.name for c in checks_for(api))]
        for name in names:
            if name in suite.exclude_checks:
                continue
            label = f"conformance[{api}:{name or 'schema'}]"
            items.append(ConformanceItem.from_parent(session, name=label, api=api, check=name))
