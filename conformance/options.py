"""The suite's options, in one table for the CLI (`--mifumo-url`, ...) and the pytest plugin
(`--conformance-mifumo-url`, ...). Each also reads a `BILLING_*` environment variable, so a CI job
can keep its secrets in the environment; a flag wins over the variable, the variable over the default.

This module imports nothing heavy (not even the contract): the pytest plugin reads the table at every
pytest start, also in runs that never use the suite. `conformance.config.config_from_options` turns the
values into a `SuiteConfig`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from conformance.errors import UsageError

ENV_PREFIX = "BILLING_"
DEFAULT_SEED = 20240611
DEFAULT_MAX_EXAMPLES = 25
DEFAULT_TIMEOUT = 10.0
# Requests in flight at once per API: what a browser opens to one host (6) is what any web backend
# serves; 4 stays under it, and gave most of the gain measured against a 150-250 ms backend (bench/suite.py).
DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 32

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def switch(raw: str) -> bool:
    """A switch's variable: 1/true/yes/on or 0/false/no/off (a typo is an error, never a silent off)."""
    value = raw.strip().lower()
    if value in _TRUE | _FALSE:
        return value in _TRUE
    raise ValueError(raw)


@dataclass(frozen=True)
class Option:
    name: str  # the flag without dashes, e.g. "mifumo-url"
    help: str
    kind: Callable[[str], Any] = str
    default: Any = None
    repeatable: bool = False  # a list; the variable holds comma-separated values
    metavar: str | None = None
    # Only the CLI has it: pytest has its own (--junitxml writes pytest's report).
    cli_only: bool = False

    @property
    def field(self) -> str:
        return self.name.replace("-", "_")

    @property
    def env_var(self) -> str:
        return ENV_PREFIX + self.field.upper()

    @property
    def is_switch(self) -> bool:
        return self.kind is switch

    def describe(self) -> str:
        default = f"; default {self.default}" if self.default not in (None, False) else ""
        return f"{self.help} [{self.env_var}{default}]"

    def argparse_kwargs(self) -> dict[str, Any]:
        """How argparse (and pytest's parser, which takes the same keywords) reads the flag; None when
        not given, so the variable then decides."""
        if self.repeatable:
            return {"action": "append", "default": [], "metavar": self.metavar or "NAME", "help": self.describe()}
        if self.is_switch:
            return {"action": "store_true", "default": None, "help": self.describe()}
        return {"type": self.kind, "default": None, "metavar": self.metavar, "help": self.describe()}

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
            expected = "1/true/yes/on or 0/false/no/off" if self.is_switch else f"a valid {self.kind.__name__}"
            raise UsageError(f"{self.env_var}={raw!r} is not {expected}") from None


# The options that name report files (written on every ending of a run, not settings of it).
REPORT_FIELDS = ("junit_xml", "report_json", "report_html")

OPTIONS: tuple[Option, ...] = (
    Option("mifumo-url", "Mifumo base URL to test (the URL the API's paths hang off)", metavar="URL"),
    Option("wepay-url", "WePay base URL to test", metavar="URL"),
    Option("bearer-token", "Mifumo access token (JWT), required with a Mifumo target", metavar="TOKEN"),
    Option("app-id", "WePay App-Id, required with a WePay target", metavar="ID"),
    Option("app-token", "WePay App-Token, required with a WePay target", metavar="TOKEN"),
    Option("api-version", "WePay Api-Version to send, one the spec lists (default: its first)", metavar="V"),
    Option("seed", "seed for Schemathesis' generated cases", int, DEFAULT_SEED, metavar="N"),
    Option("max-examples", "Schemathesis examples per operation", int, DEFAULT_MAX_EXAMPLES, metavar="N"),
    Option("timeout", "seconds per request", float, DEFAULT_TIMEOUT, metavar="S"),
    Option("deadline", "seconds for the whole run; reaching it fails the run (exit 1)", float, metavar="S"),
    Option("max-rate", "at most N requests in any second, across the whole run", float, metavar="N"),
    Option(
        "concurrency",
        "at most N requests in flight at once per API, Schemathesis' and the semantic checks' together",
        int,
        DEFAULT_CONCURRENCY,
        metavar="N",
    ),
    Option("exclude-check", "skip a check by name (repeatable or comma-separated; --list-checks)", repeatable=True),
    Option("ca-cert", "trust the targets' certificates this CA issued (PEM; default SSL_CERT_FILE)", metavar="FILE"),
    Option("insecure", "do not verify the targets' TLS certificates (every report says so)", switch),
    Option("client-cert", "client certificate for mutual TLS (PEM; may hold the key too)", metavar="FILE"),
    Option("client-key", "the client certificate's private key (PEM)", metavar="FILE"),
    Option("junit-xml", "write a JUnit XML report here (its folder is made)", metavar="FILE", cli_only=True),
    Option(
        "report-json",
        "write the run as JSON here (shape: conformance/reporting/report.schema.json)",
        metavar="FILE",
        cli_only=True,
    ),
    Option("report-html", "write the run as one self-contained HTML page here", metavar="FILE", cli_only=True),
)
