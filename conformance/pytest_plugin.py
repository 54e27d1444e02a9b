"""pytest plugin (entry point `billing_conformance`): inert unless `--conformance-mifumo-url` or
`--conformance-wepay-url` is given; then it adds one test per check and the `conformance_report` fixture.

    pytest -p billing_conformance --conformance-wepay-url http://127.0.0.1:4010 [--conformance-timeout S]
           [--conformance-deadline S] [--conformance-max-rate N] [--conformance-exclude-check NAME ...]
           [--conformance-ca-cert FILE | --conformance-insecure] [--conformance-client-cert FILE ...]

Installed, it is loaded by every pytest run in the environment: at import it reads only the option
table; the suite (HTTP clients, Schemathesis, the contract) is imported when its options are given.
The run happens once, before the first test: a bad flag, a dead or wrong target, refused credentials
stop the session there with one usage error (exit 4), never one failure per check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from conformance.errors import UsageError
from conformance.options import OPTIONS

if TYPE_CHECKING:
    from conformance.config import SuiteConfig
    from conformance.report import CheckResult, SuiteReport

_REPORT_KEY = pytest.StashKey["SuiteReport"]()
_PREFIX = "conformance-"
_PLUGIN_OPTIONS = tuple(option for option in OPTIONS if not option.cli_only)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("billing-conformance", "billing API conformance suite")
    for option in _PLUGIN_OPTIONS:
        group.addoption(f"--{_PREFIX}{option.name}", **option.argparse_kwargs())


def suite_config(config: pytest.Config) -> SuiteConfig | None:
    """The suite's config from the command line, or None when no target was given (plugin stays inert:
    the `BILLING_*_URL` variables alone do not turn it on, so a project's own test run is unaffected)."""
    given = {o.field: config.getoption(f"{_PREFIX}{o.name}".replace("-", "_")) for o in _PLUGIN_OPTIONS}
    if not (given["mifumo_url"] or given["wepay_url"]):
        return None
    from conformance.config import config_from_options

    try:
        # pytest writes its own report (--junitxml): the CLI's BILLING_JUNIT_XML is not for this run.
        return config_from_options(given, options=_PLUGIN_OPTIONS)
    except UsageError as exc:
        raise pytest.UsageError(f"billing-conformance: {exc}") from None


def _report(config: pytest.Config) -> SuiteReport:
    """The run's report, made once; every reason the suite cannot judge the target is a usage error."""
    if _REPORT_KEY not in config.stash:
        from conformance.runner import run_suite

        suite = suite_config(config)
        assert suite is not None
        try:
            config.stash[_REPORT_KEY] = run_suite(suite)
        except UsageError as exc:
            raise pytest.UsageError(f"billing-conformance: {exc}") from None
    return config.stash[_REPORT_KEY]


def _needs_the_suite(item: pytest.Item) -> bool:
    return isinstance(item, ConformanceItem) or "conformance_report" in getattr(item, "fixturenames", ())


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Run the suite before the first test, so that what stops it stops the session once (pytest's
    usage error), instead of failing every check's test with the same traceback."""
    config = session.config
    if config.option.collectonly or suite_config(config) is None:
        return
    if any(_needs_the_suite(item) for item in session.items):
        _report(config)


def pytest_report_header(config: pytest.Config) -> str | None:
    suite = suite_config(config)
    if suite is not None and suite.insecure:
        return "billing-conformance: TLS certificate verification is OFF (--conformance-insecure)"
    return None


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
        report = _report(self.config)
        # Each case in pytest's JUnit report carries the run's settings (TLS verification among them).
        self.user_properties.extend(report.settings.items())
        results = [r for r in report.results if r.api == self.api]
        if self.check is None:
            return [r for r in results if r.kind == "schema"]
        return [r for r in results if r.check == self.check]

    def runtest(self) -> None:
        from conformance.report import Status

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
    from billing_contract import APIS
    from conformance.checks import checks_for

    for api in APIS:
        if api not in suite.apis:
            continue
        names: list[str | None] = [None, *(c.name for c in checks_for(api))]
        for name in names:
            if name in suite.exclude_checks:
                continue
            label = f"conformance[{api}:{name or 'schema'}]"
            items.append(ConformanceItem.from_parent(session, name=label, api=api, check=name))
