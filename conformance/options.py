"""The suite's options, in one table for the CLI (`--mifumo-url`, ...) and the pytest plugin
(`--conformance-mifumo-url`, ...). Each also reads a `BILLING_*` environment variable, so a CI job
can keep its secrets in the environment; a flag wins over the variable, the variable over the default.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from conformance.config import DEFAULT_MAX_EXAMPLES, DEFAULT_SEED, DEFAULT_TIMEOUT, SuiteConfig, UsageError

ENV_PREFIX = "BILLING_"


@dataclass(frozen=True)
class Option:
    name: str  # the flag without dashes, e.g. "mifumo-url"
    help: str
    kind: Callable[[str], Any] = str
    default: Any = None
    repeatable: bool = False  # a list; the variable holds comma-separated values
    output: bool = False  # a report file to write (conformance.reporting), not part of the run's SuiteConfig

    @property
    def field(self) -> str:
        return self.name.replace("-", "_")

    @property
    def env_var(self) -> str:
        return ENV_PREFIX + self.field.upper()

    def describe(self) -> str:
        default = f"; default {self.default}" if self.default is not None else ""
        return f"{self.help} [{self.env_var}{default}]"

    def resolve(self, given: Any, environ: Mapping[str, str]) -> Any:
        """The flag's value, else the variable's, else the default; a bad number is a usage error."""
        if given not in (None, []):
            return given
        raw = environ.get(self.env_var)
        if not raw:
            return [] if self.repeatable else self.default
        if self.repeatable:
            return [raw]
        try:
            return self.kind(raw)
        except ValueError:
            raise UsageError(f"{self.env_var}={raw!r} is not a valid {self.kind.__name__}") from None


OPTIONS: tuple[Option, ...] = (
    Option("mifumo-url", "Mifumo base URL to test (the URL the API's paths hang off)"),
    Option("wepay-url", "WePay base URL to test"),
    Option("bearer-token", "Mifumo access token (JWT), required with a Mifumo target"),
    Option("app-id", "WePay App-Id, required with a WePay target"),
    Option("app-token", "WePay App-Token, required with a WePay target"),
    Option("api-version", "WePay Api-Version to send (default: the first the spec supports)"),
    Option("seed", "seed for Schemathesis' generated cases", int, DEFAULT_SEED),
    Option("max-examples", "Schemathesis examples per operation", int, DEFAULT_MAX_EXAMPLES),
    Option("timeout", "seconds per request", float, DEFAULT_TIMEOUT),
    Option("deadline", "seconds for the whole run; reaching it fails the run (exit 1)", float),
    Option("max-rate", "at most N requests in any second, across the whole run", float),
    Option("exclude-check", "skip a check by name (repeatable, or comma-separated)", repeatable=True),
    Option("report-json", "write the run as JSON here (shape: conformance/reporting/report.schema.json)", output=True),
    Option("report-html", "write the run as one self-contained HTML page here", output=True),
)


def config_from_options(
    given: Mapping[str, Any], environ: Mapping[str, str] | None = None, **extra: Any
) -> SuiteConfig:
    """A SuiteConfig from option values keyed by field (None where not given) and the environment."""
    environ = os.environ if environ is None else environ
    values = {option.field: option.resolve(given.get(option.field), environ) for option in OPTIONS if not option.output}
    excluded = {name.strip() for item in values.pop("exclude_check") for name in item.split(",") if name.strip()}
    present = {key: value for key, value in values.items() if value is not None}
    return SuiteConfig(**present, exclude_checks=frozenset(excluded), **extra)


def outputs_from_options(given: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The report files asked for (`report_json`, `report_html`), keyed by field; None where not asked."""
    environ = os.environ if environ is None else environ
    return {option.field: option.resolve(given.get(option.field), environ) for option in OPTIONS if option.output}
