"""`billing-mock`: serve the mock (the default command), print its credentials, dump its generated dataset,
or run the validating proxy. Thin over `mock_server.create_app`; the options are one table
(`mock_server.options`), from which each command's parser, `--help` and `BILLING_MOCK_*` variables come.

    billing-mock [--port N] [--seed N] ...            serve (every flag also reads its BILLING_MOCK_* variable)
    billing-mock credentials [--app-id ID] ...        export lines for curl and billing-conformance
    billing-mock fixtures dump [--format yaml] [-o F] the generated dataset, in the --fixtures format
    billing-mock proxy --wepay-upstream URL ...       forward to real backends, checking every exchange

The variables are also how the configuration reaches uvicorn's worker processes when `--workers` is above 1.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import shlex
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import uvicorn

from billing_contract.spec import Spec, SpecError
from fixtures import DatasetSize, FixturesError, dump_dataset, generate_dataset
from mock_server.app import DOCS_PATH, SPEC_PATH, TOOLING_PREFIX, MockApp, create_app
from mock_server.config import MockConfig
from mock_server.controls import ControlSettings, parse_latency
from mock_server.flags import (
    EXIT_USAGE,
    ConfigurationError,
    Parser,
    check_port,
    logs_access,
    stop_on_sigterm,
)
from mock_server.options import (
    COMMANDS,
    DUMP,
    ENV_PREFIX,
    PRINT_CREDENTIALS,
    PROXY,
    SERVE,
    SUITE_OPTIONS,
    Command,
    add_options,
    exported,
    resolve,
)
from mock_server.reload import ReloadingApp
from mock_server.security import Credentials
from mock_server.shared_state import STATE_DIR_VARIABLE, create_state_dir

__all__ = ["ENV_PREFIX", "app_from_environment", "config_from_environment", "main", "parse", "serve_settings"]

DISTRIBUTION = "billing-contract"
EPILOG = """examples:
  billing-mock --port 4010 --seed 7                  serve
  eval "$(billing-mock credentials)"                 the suite's BILLING_* credential variables
  billing-mock fixtures dump --format yaml -o my-data.yaml
  billing-mock proxy --wepay-upstream https://stage-api.wepay.com --record staging.yaml

Every flag reads its BILLING_MOCK_* variable when not given; a flag given wins.
`billing-mock COMMAND --help` lists a command's own flags."""


def package_version() -> str:
    """The installed distribution's version: the one number a bug report needs."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _command_parser(commands: Any, name: str, command: Command) -> Parser:
    """`commands` is what `add_subparsers` returns (argparse names its class only privately)."""
    parser = commands.add_parser(name, help=command.summary, description=command.help)
    add_options(parser, command)
    return parser


def build_parser() -> Parser:
    """`billing-mock`'s parser: the serving flags, `--version`, and a sub-parser per command."""
    parser = Parser(
        prog=SERVE.prog,
        description=SERVE.help + " Or run one of the commands below.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"billing-mock {package_version()}")
    add_options(parser, SERVE)
    commands = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    _command_parser(commands, "credentials", PRINT_CREDENTIALS)
    fixtures = commands.add_parser("fixtures", help=DUMP.summary, description="The mock's generated dataset.")
    actions = fixtures.add_subparsers(title="commands", dest="fixtures_command", metavar="COMMAND")
    _command_parser(actions, "dump", DUMP)
    _command_parser(commands, "proxy", PROXY)
    return parser


def parse(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> tuple[Command, argparse.Namespace]:
    """The command asked for and its settings: the flags given, the rest from the environment or defaults."""
    given = build_parser().parse_args(list(argv))
    command = _chosen(given)
    return command, resolve(given, command, os.environ if environ is None else environ)


def _chosen(given: argparse.Namespace) -> Command:
    if given.command is None:
        return SERVE
    if given.command == "fixtures":
        if given.fixtures_command is None:
            raise ConfigurationError("billing-mock fixtures needs a command: billing-mock fixtures dump (see --help)")
        return DUMP
    return next(command for command in COMMANDS if command.words == (given.command,))


def serve_settings(argv: Sequence[str] = (), environ: Mapping[str, str] | None = None) -> argparse.Namespace:
    """The serving command's settings for these flags and this environment (as a worker process reads them)."""
    command, settings = parse(argv, environ)
    if command is not SERVE:
        raise ConfigurationError(f"{' '.join(argv)}: not the serving command")
    return settings


def config_from_args(args: argparse.Namespace) -> MockConfig:
    for name in ("records", "statements", "accounts"):
        if getattr(args, name) < 0:
            raise ConfigurationError(f"--{name} must be >= 0")
    _check_credentials(args)
    if args.admin_token is not None:
        _check_token("--admin-token", args.admin_token)
    if not 0.0 <= args.error_rate <= 1.0:
        raise ConfigurationError(f"--error-rate must be between 0 and 1, got {args.error_rate}")
    try:
        latency = parse_latency(args.latency) if args.latency else None
    except ValueError as exc:
        raise ConfigurationError(f"--latency: {exc}") from None
    origins = (
        None
        if args.cors_origins.strip().lower() == "none"
        else tuple(o.strip() for o in args.cors_origins.split(",") if o.strip())
    )
    return MockConfig(
        controls=ControlSettings(
            latency_ms=latency, error_rate=args.error_rate, rate_limit=args.rate_limit, seed=args.seed
        ),
        cors_origins=origins,
        seed=args.seed,
        size=DatasetSize(records=args.records, statements=args.statements, accounts=args.accounts),
        fixtures_path=args.fixtures,
        credentials=Credentials(bearer_token=args.bearer_token, app_id=args.app_id, app_token=args.app_token),
        spec_path=args.spec,
        admin_token=args.admin_token,
        host=args.host,
    )


def _check_token(flag: str, value: str) -> None:
    if not value or not value.isprintable() or any(c.isspace() for c in value):
        raise ConfigurationError(f"{flag} must be a non-empty value without spaces")


def _check_credentials(args: argparse.Namespace) -> None:
    for option in PRINT_CREDENTIALS.options:
        _check_token(option.flag, getattr(args, option.field))


def config_from_environment() -> MockConfig:
    return config_from_args(serve_settings())


def app_from_environment() -> MockApp:
    """uvicorn factory for worker processes: the parent exported the configuration."""
    return create_app(config_from_environment())


# The conformance suite's variables (billing-conformance reads them), so a run can follow the banner.
SUITE_URL_VARIABLES = ("BILLING_MIFUMO_URL", "BILLING_WEPAY_URL")


def suite_exports(credentials: Credentials) -> str:
    """`export` line for the suite's credential variables, quoted for any POSIX shell."""
    values = ((option.suite_variable, getattr(credentials, option.field)) for option in SUITE_OPTIONS)
    return "export " + " ".join(f"{name}={shlex.quote(value)}" for name, value in values)


def describe_controls(config: MockConfig) -> str:
    """The per-process controls in force, one line (the per-request ones are the `Prefer` header's)."""
    controls = config.controls
    latency = f"{controls.latency_ms[0]}-{controls.latency_ms[1]} ms" if controls.latency_ms else "none"
    cors_origins = "off" if config.cors_origins is None else ", ".join(config.cors_origins) or "none"
    return (
        f"rate limit {'on' if controls.rate_limit else 'off'}, latency {latency}, "
        f"error rate {controls.error_rate:g}, CORS {cors_origins}"
    )


def banner(app: MockApp, host: str, port: int, workers: int) -> str:
    summary = app.state.summary()
    creds = app.state.credentials
    shown_host = f"[{host}]" if ":" in host else host
    base = f"http://{shown_host}:{port}"
    source = f"seed {summary['seed']}" if summary["seed"] is not None else f"fixtures {summary['source']}"
    urls = " ".join(f"{name}={base}" for name in SUITE_URL_VARIABLES)
    return "\n".join(
        [
            f"billing-mock on {base} ({workers} worker{'s' if workers != 1 else ''}, {source})",
            f"  Mifumo  GET {base}/api/billing/history/   ({summary['mifumo']['records']} records)",
            f"  WePay   GET {base}/billing_statements     ({summary['wepay']['statements']} statements, "
            f"{summary['wepay']['accounts']} accounts)",
            f"  Docs    {base}{DOCS_PATH}/   Spec {base}{SPEC_PATH}   Tooling {base}{TOOLING_PREFIX}/dataset",
            f"  Controls  {describe_controls(app.state.config)}; per request: Prefer code=, example=, delay=, fault=",
            f"  Tooling   {app.admin.guard.describe()}",
            f"  Mifumo credentials:  Authorization: Bearer {creds.bearer_token}",
            f"  WePay credentials:   App-Id: {creds.app_id}   App-Token: {creds.app_token}   "
            f"Api-Version: {app.state.spec.facts.default_api_version}",
            "  For curl and billing-conformance:",
            f"    export {urls}",
            f"    {suite_exports(creds)}",
        ]
    )


def _build(config: MockConfig) -> MockApp:
    try:
        return create_app(config)
    except (FixturesError, SpecError, ConfigurationError):
        raise
    except Exception as exc:  # a spec connexion or the mock cannot serve: one line, not a traceback
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise SpecError(f"spec {config.spec_path} cannot be served: {type(exc).__name__}: {reason}") from None


def _state_dir(workers: int) -> Path | None:
    """With several workers, the folder through which they share the dataset and the request log."""
    if workers == 1:
        return None
    try:
        return create_state_dir()
    except OSError as exc:
        raise ConfigurationError(f"--workers {workers}: cannot create a state folder: {exc.strerror or exc}") from None


def serve(args: argparse.Namespace) -> int:
    stop_on_sigterm()  # before the app is built: a stop during start-up ends the run at once
    if not 0 < args.port < 65536:
        raise ConfigurationError(f"--port must be 1..65535, got {args.port}")
    if args.workers < 1:
        raise ConfigurationError(f"--workers must be >= 1, got {args.workers}")
    if args.reload and args.workers > 1:
        raise ConfigurationError("--reload serves from one process: drop --workers")
    config = config_from_args(args)
    app = _build(config)  # validates spec and fixtures before anything listens
    check_port(args.host, args.port)
    state_dir = _state_dir(args.workers)
    print(banner(app, args.host, args.port, args.workers), flush=True)
    watched = [Path(args.spec)] + ([Path(args.fixtures)] if args.fixtures else [])
    if args.reload:
        names = ", ".join(str(p) for p in reversed(watched))
        print(f"  Reload    watching {names} (a bad edit keeps the last good version)", flush=True)
    common = {
        "host": args.host,
        "port": args.port,
        "log_level": args.log_level,
        "access_log": logs_access(args.log_level),
        "forwarded_allow_ips": args.forwarded_allow_ips,  # None: uvicorn's own default (127.0.0.1)
        "timeout_graceful_shutdown": 10,
    }
    if args.reload:
        reloading = ReloadingApp(app, lambda: _build(config), watched, (FixturesError, SpecError, ConfigurationError))
        uvicorn.run(reloading, lifespan="on", **common)
    elif args.workers == 1:
        uvicorn.run(app, lifespan="off", **common)
    else:
        os.environ.update(exported(args, SERVE))  # each worker builds its app from these (app_from_environment)
        assert state_dir is not None
        os.environ[STATE_DIR_VARIABLE] = str(state_dir)
        try:
            factory = "mock_server.cli:app_from_environment"
            uvicorn.run(factory, factory=True, workers=args.workers, lifespan="off", **common)
        finally:
            shutil.rmtree(state_dir, ignore_errors=True)
    return 0


def dump(args: argparse.Namespace) -> int:
    dataset = generate_dataset(args.seed, DatasetSize(args.records, args.statements, args.accounts), Spec.load())
    if args.output is None:
        dump_dataset(dataset, sys.stdout, args.format)
    else:
        with args.output.open("w", encoding="utf-8") as stream:
            dump_dataset(dataset, stream, args.format)
    return 0


def credentials(args: argparse.Namespace) -> int:
    """`eval "$(billing-mock credentials)"`: works whichever python3 comes first on PATH."""
    _check_credentials(args)
    print(suite_exports(Credentials(args.bearer_token, args.app_id, args.app_token)))
    return 0


def run(argv: Sequence[str]) -> int:
    command, settings = parse(argv)
    if command is PROXY:
        from mock_server.proxy.cli import proxy  # imported when asked for: the other commands never need it

        return proxy(settings)
    return {SERVE: serve, DUMP: dump, PRINT_CREDENTIALS: credentials}[command](settings)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(list(sys.argv[1:] if argv is None else argv))
    except (ConfigurationError, FixturesError, SpecError) as exc:
        print(f"billing-mock: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:  # `billing-mock fixtures dump | head`
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    # `python -m mock_server.cli`: run the importable module's main, so that this module and the proxy's
    # command line (which imports mock_server.cli) share one set of classes (ConfigurationError above all).
    from mock_server.cli import main as _main

    sys.exit(_main())
