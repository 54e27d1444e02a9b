"""pytest plugin (entry point `billing_conformance`): inert unless `--conformance-mifumo-url` or
`--conformance-wepay-url` is given; then it adds one test per check and the `conformance_report` fixture.

    pytest -p billing_conformance --conformance-wepay-url http://127.0.0.1:4010 [--conformance-timeout S]
           [--conformance-deadline S] [--conformance-max-rate N] [--conformance-exclude-check NAME ...]
"""

from __future__ import annotations

from typing import Any

import pytest

from billing_contract import APIS
from conformance.checks import checks_for
from conformance.config import SuiteConfig, UsageError
from conformance.options import OPTIONS, config_from_options
from conformance.report import CheckResult, Status, SuiteReport
from conformance.runner import TargetUnreachable, run_suite

_REPORT_KEY = pytest.StashKey[SuiteReport]()
_PREFIX = "conformance-"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("billing-conformance", "billing API conformance suite")
    for option in OPTIONS:
        if option.output:  # report files are the CLI's; here pytest's own --junitxml reports
            continue
        flag = f"--{_PREFIX}{option.name}"
        if option.repeatable:
            group.addoption(flag, action="append", default=[], metavar="NAME", help=option.describe())
        else:
            group.addoption(flag, type=option.kind, default=None, help=option.describe())


def suite_config(config: pytest.Config) -> SuiteConfig | None:
    """The suite's config from the command line, or None when no target was given (plugin stays inert:
    the `BILLING_*_URL` variables alone do not turn it on, so a project's own test run is unaffected)."""
    given = {
        option.field: config.getoption(f"{_PREFIX}{option.name}".replace("-", "_"))
        for option in OPTIONS
        if not option.output
    }
    if not (given["mifumo_url"] or given["wepay_url"]):
        return None
    try:
        return config_from_options(given)
    except UsageError as exc:
        raise pytest.UsageError(f"billing-conformance: {exc}") from None


def _report(config: pytest.Config) -> SuiteReport:
    if _REPORT_KEY not in config.stash:
        suite = suite_config(config)
        assert suite is not None
        try:
            config.stash[_REPORT_KEY] = run_suite(suite)
        except (UsageError, TargetUnreachable) as exc:
            raise pytest.UsageError(f"billing-conformance: {exc}") from None
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
                    f"{r.check} on {r.operation}: {f.message}\n  expected: {f.expected}\n  got: {f.got}\n  {f.curl}"
                    for r in failures
                    for f in r.findings
                )
            )
        cut_short = [r for r in results if r.cut_by_deadline]
        if cut_short:  # not run is not passed: the CLI exits 1 when the deadline is reached
            raise AssertionError("; ".join(sorted({f"{r.check}: {r.message}" for r in cut_short})))
        if results and all(r.status in (Status.SKIPPED, Status.BLOCKED) for r in results):
            pytest.skip("; ".join(sorted({r.message for r in results})))

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
