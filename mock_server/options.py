"""`billing-mock`'s options, each declared once in `OPTIONS`, as the suite's are in `conformance/options.py`.

From the one table come the parser of each command (`billing-mock`, `credentials`, `fixtures dump`,
`proxy`), every flag's `--help` line (its default and its variable), the `BILLING_MOCK_*` variable each
flag also reads (a flag given wins over the variable, the variable over the default), the variables the
parent exports so that `--workers` processes build the same app, and the banner's `export` lines (the
options whose value the conformance suite reads under its own variable).

The parser leaves an option that was not given out of the namespace (`argparse.SUPPRESS`); `resolve` then
fills it from the environment or the default. So only the chosen command's variables are read, and a bad
one is one line naming it (exit 2), like a bad flag.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from billing_contract.spec import DEFAULT_SPEC_PATH
from fixtures import DEFAULT_SEED, DatasetSize
from mock_server.config import DEFAULT_CORS_ORIGINS
from mock_server.flags import LOG_LEVELS, ConfigurationError
from mock_server.proxy.config import DEFAULT_UPSTREAM_TIMEOUT
from mock_server.security import DEFAULT_APP_ID, DEFAULT_APP_TOKEN, DEFAULT_BEARER_TOKEN

ENV_PREFIX = "BILLING_MOCK_"
# The values a switch's variable turns it on with; anything else leaves it off.
SWITCH_ON = ("1", "true", "yes")
_KIND_NAMES = {int: "an integer", float: "a number"}


@dataclass(frozen=True)
class Option:
    name: str  # the flag without dashes, e.g. "admin-token"
    help: str
    default: Any = None
    kind: Callable[[str], Any] = str
    shown: str | None = None  # how --help names the default, where the value alone says too little
    choices: tuple[str, ...] = ()
    switch: bool = False  # a flag without a value (store_true); its variable is on for 1, true or yes
    short: str | None = None
    metavar: str | None = None  # the value's name in --help (argparse's default: the flag in capitals)
    from_environment: bool = True  # False: a per-invocation choice (an output file) no variable should make
    hidden: bool = False  # read, but left out of --help
    suite_variable: str | None = None  # the conformance suite's variable for the same value (banner, credentials)

    @property
    def field(self) -> str:
        return self.name.replace("-", "_")

    @property
    def flag(self) -> str:
        return f"--{self.name}"

    @property
    def env_var(self) -> str:
        return ENV_PREFIX + self.field.upper()

    def describe(self) -> str:
        """The --help line: what it does, the built-in default, and the variable it also reads."""
        shown = self.shown if self.shown is not None else ("off" if self.switch else self.default)
        variable = f"; env {self.env_var}" if self.from_environment else "; not read from the environment"
        return f"{self.help} (default: {shown}{variable})"

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        names = [self.short, self.flag] if self.short else [self.flag]
        text = argparse.SUPPRESS if self.hidden else self.describe().replace("%", "%%")
        kwargs: dict[str, Any] = {"dest": self.field, "default": argparse.SUPPRESS, "help": text}
        if self.switch:
            kwargs["action"] = "store_true"
        else:
            kwargs["type"] = self.kind
            if self.metavar:
                kwargs["metavar"] = self.metavar
            if self.choices:
                kwargs["choices"] = self.choices
        parser.add_argument(*names, **kwargs)

    def resolve(self, given: Mapping[str, Any], environ: Mapping[str, str]) -> Any:
        """The flag's value if given, else its variable's, else the default."""
        if self.field in given:
            return given[self.field]
        raw = environ.get(self.env_var) if self.from_environment else None
        return self.default if raw is None else self.from_variable(raw)

    def from_variable(self, raw: str) -> Any:
        if self.switch:
            return raw.strip().lower() in SWITCH_ON
        if self.choices and raw not in self.choices:
            raise ConfigurationError(f"{self.env_var} must be one of {', '.join(self.choices)}, got {raw!r}")
        try:
            return self.kind(raw)
        except ValueError:
            expected = _KIND_NAMES.get(self.kind, f"a valid {getattr(self.kind, '__name__', 'value')}")
            raise ConfigurationError(f"{self.env_var} must be {expected}, got {raw!r}") from None

    def exported(self, value: Any) -> str:
        """The variable's value that `from_variable` reads back as `value` (for worker processes)."""
        if self.switch:
            return "1" if value else "0"
        return str(value)


OPTIONS: tuple[Option, ...] = (
    # Where it listens.
    Option("host", "address to listen on", "127.0.0.1"),
    Option("port", "port to listen on", 4010, int, metavar="N"),
    Option(
        "forwarded-allow-ips",
        "proxies whose X-Forwarded-Proto/-For are believed (comma-separated, * for any): behind a TLS-terminating "
        "ingress, Mifumo's next/previous links then keep https",
        shown="127.0.0.1",  # None hands uvicorn its own default, which is this
        metavar="IPS",
    ),
    # The data.
    Option("seed", "Faker seed: same seed, same data", DEFAULT_SEED, int, metavar="N"),
    Option("records", "Mifumo records", DatasetSize.records, int, metavar="N"),
    Option("statements", "WePay statements", DatasetSize.statements, int, metavar="N"),
    Option("accounts", "WePay accounts", DatasetSize.accounts, int, metavar="N"),
    Option(
        "fixtures",
        "JSON or YAML dataset to serve instead of the generated one",
        kind=Path,
        shown="generated",
        metavar="PATH",
    ),
    Option("workers", "worker processes", 1, int, metavar="N"),
    # Credentials.
    Option(
        "bearer-token",
        "the only Mifumo bearer token accepted",
        DEFAULT_BEARER_TOKEN,
        shown="a fixed JWT-shaped token, printed at start",
        metavar="T",
        suite_variable="BILLING_BEARER_TOKEN",
    ),
    Option("app-id", "the only WePay App-Id accepted", DEFAULT_APP_ID, metavar="ID", suite_variable="BILLING_APP_ID"),
    Option(
        "app-token",
        "the only WePay App-Token accepted",
        DEFAULT_APP_TOKEN,
        metavar="TOKEN",
        suite_variable="BILLING_APP_TOKEN",
    ),
    Option(
        "admin-token",
        "token the /__mock/ write and log routes require (Authorization: Bearer <token>)",
        shown="none: open on loopback, refused beyond it",
        metavar="T",
    ),
    Option("log-level", "uvicorn log level (info: one access-log line per request)", "info", choices=LOG_LEVELS),
    # Controls.
    Option("latency", "MIN-MAX ms added to every request (seeded)", shown="none", metavar="MIN-MAX"),
    Option("error-rate", "fraction of requests answered with the documented 500 (seeded)", 0.0, float, metavar="R"),
    Option("rate-limit", "enforce WePay's 30 requests per endpoint per App-Id per 10 s", False, switch=True),
    Option(
        "cors-origins",
        "comma-separated browser origins (no port: any port); 'none' disables",
        ",".join(DEFAULT_CORS_ORIGINS),
        metavar="ORIGINS",
    ),
    Option(
        "reload",
        "rebuild when the spec or the fixtures file changes; a bad edit keeps the last good version",
        False,
        switch=True,
    ),
    Option("spec", "the OpenAPI document to serve", DEFAULT_SPEC_PATH, kind=Path, hidden=True),
    # `fixtures dump`.
    Option("format", "the dataset's format", "json", choices=("json", "yaml"), from_environment=False),
    Option("output", "file to write", kind=Path, short="-o", shown="stdout", metavar="FILE", from_environment=False),
    # `proxy`.
    Option("mifumo-upstream", "Mifumo base URL to forward to", shown="none: the mock serves Mifumo", metavar="URL"),
    Option("wepay-upstream", "WePay base URL to forward to", shown="none: the mock serves WePay", metavar="URL"),
    Option(
        "record",
        "write every distinct record and statement seen to this fixtures file (JSON or YAML)",
        kind=Path,
        shown="none",
        metavar="FILE",
    ),
    Option("report", "write the violations as JSON here at shutdown", kind=Path, shown="none", metavar="FILE"),
    Option(
        "junit-xml",
        "write a JUnit report (a test case per operation and rule) here at shutdown",
        kind=Path,
        shown="none",
        metavar="FILE",
    ),
    Option(
        "report-html",
        "write the violations as one self-contained HTML page here at shutdown",
        kind=Path,
        shown="none",
        metavar="FILE",
    ),
    Option("strict", "replace a violating answer with 502 naming the violations", False, switch=True),
    Option(
        "upstream-timeout",
        "seconds to wait for an upstream's answer (then 504)",
        DEFAULT_UPSTREAM_TIMEOUT,
        float,
        metavar="S",
    ),
)
BY_NAME = {option.name: option for option in OPTIONS}
# The options whose value the conformance suite reads too, under its own variable: the banner's and
# `billing-mock credentials`' `export` line.
SUITE_OPTIONS = tuple(option for option in OPTIONS if option.suite_variable)

DATASET = ("seed", "records", "statements", "accounts")
CREDENTIALS = ("bearer-token", "app-id", "app-token")


@dataclass(frozen=True)
class Command:
    """A `billing-mock` command: its words after `billing-mock`, what it does, and the options it takes."""

    words: tuple[str, ...]  # () for serving, ("fixtures", "dump"), ...
    summary: str  # its line in `billing-mock --help`'s list of commands
    help: str
    option_names: tuple[str, ...]

    @property
    def options(self) -> tuple[Option, ...]:
        return tuple(BY_NAME[name] for name in self.option_names)

    @property
    def prog(self) -> str:
        return " ".join(("billing-mock", *self.words))


SERVE = Command(
    (),
    "serve the mock (the default command)",
    "Serve the Mifumo and WePay billing mock.",
    (
        *("host", "port", "forwarded-allow-ips", *DATASET, "fixtures", "workers", *CREDENTIALS, "admin-token"),
        *("log-level", "latency", "error-rate", "rate-limit", "cors-origins", "reload", "spec"),
    ),
)
PRINT_CREDENTIALS = Command(
    ("credentials",),
    'billing-mock credentials: print the suite\'s credential variables, for eval "$(billing-mock credentials)"',
    "Print the mock's credentials as the conformance suite's variables, ready for eval: "
    'eval "$(billing-mock credentials)"',
    CREDENTIALS,
)
DUMP = Command(
    ("fixtures", "dump"),
    "billing-mock fixtures dump: write the generated dataset in the --fixtures format",
    "Write the generated dataset in the --fixtures format (default: JSON on stdout).",
    (*DATASET, "format", "output"),
)
PROXY = Command(
    ("proxy",),
    "billing-mock proxy: forward to real backends and check every exchange against the contract",
    "Forward each API to a real backend, check every exchange against the contract, and optionally record "
    "what comes back as fixtures. An API without an upstream is served by the mock.",
    (
        *("mifumo-upstream", "wepay-upstream", "host", "port", "record", "report", "junit-xml", "report-html"),
        "strict",
        *("upstream-timeout", "log-level", "admin-token", *DATASET),
    ),
)
COMMANDS = (SERVE, PRINT_CREDENTIALS, DUMP, PROXY)


def add_options(parser: argparse.ArgumentParser, command: Command) -> None:
    for option in command.options:
        option.add_to(parser)


def resolve(given: argparse.Namespace, command: Command, environ: Mapping[str, str]) -> argparse.Namespace:
    """Every option of `command`: the flags given, the rest from the environment or their defaults."""
    values = vars(given)
    return argparse.Namespace(**{option.field: option.resolve(values, environ) for option in command.options})


def exported(settings: argparse.Namespace, command: Command) -> dict[str, str]:
    """The variables that give `command` these settings with no flag (how `--workers` processes get them)."""
    return {
        option.env_var: option.exported(value)
        for option in command.options
        if option.from_environment and (value := getattr(settings, option.field)) is not None
    }
