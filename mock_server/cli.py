"""`billing-mock`: serve the mock, or dump its generated dataset. Thin over `mock_server.create_app`.

Every flag also reads an environment variable (BILLING_MOCK_<FLAG>), which is also how the
configuration reaches uvicorn's worker processes when `--workers` is above 1.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from billing_contract.spec import DEFAULT_SPEC_PATH, Spec, SpecError
from fixtures import DatasetSize, FixturesError, dump_dataset, generate_dataset
from mock_server.app import DOCS_PATH, SPEC_PATH, TOOLING_PREFIX, MockApp, create_app
from mock_server.config import DEFAULT_CORS_ORIGINS, MockConfig
from mock_server.controls import ControlSettings, parse_latency
from mock_server.flags import (
    ENV_PREFIX,
    EXIT_USAGE,
    LOG_LEVELS,
    ConfigurationError,
    Parser,
    add_dataset_arguments,
    add_flag,
    check_port,
    env_value,
    integer,
    logs_access,
    number,
    stop_on_sigterm,
    switch,
)
from mock_server.reload import ReloadingApp
from mock_server.security import DEFAULT_APP_ID, DEFAULT_APP_TOKEN, DEFAULT_BEARER_TOKEN, Credentials
from mock_server.shared_state import STATE_DIR_VARIABLE, create_state_dir


def _add_credential_arguments(parser: argparse.ArgumentParser) -> None:
    add_flag(
        parser,
        "--bearer-token",
        "the only Mifumo bearer token accepted",
        "a fixed JWT-shaped token, printed at start",
        default=env_value("bearer-token", DEFAULT_BEARER_TOKEN),
    )
    add_flag(
        parser,
        "--app-id",
        "the only WePay App-Id accepted",
        DEFAULT_APP_ID,
        default=env_value("app-id", DEFAULT_APP_ID),
    )
    add_flag(
        parser,
        "--app-token",
        "the only WePay App-Token accepted",
        DEFAULT_APP_TOKEN,
        default=env_value("app-token", DEFAULT_APP_TOKEN),
    )


SUBCOMMANDS = """commands:
  billing-mock fixtures dump [--seed N] [--records N] [--statements N] [--accounts N]
                             [--format json|yaml] [-o FILE]
      write the generated dataset in the --fixtures format (default: JSON on stdout)
  billing-mock proxy --mifumo-upstream URL --wepay-upstream URL [--record FILE] [--strict] ...
      forward to real backends and check every exchange against the contract (billing-mock proxy --help)
  billing-mock credentials [--bearer-token T] [--app-id ID] [--app-token T]
      print `export BILLING_BEARER_TOKEN=... BILLING_APP_ID=... BILLING_APP_TOKEN=...` for curl and
      billing-conformance:  eval "$(billing-mock credentials)"

Every flag reads its environment variable when not given; a flag given wins."""


def serve_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="billing-mock",
        description="Serve the Mifumo and WePay billing mock.",
        epilog=SUBCOMMANDS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_flag(parser, "--host", "address to listen on", "127.0.0.1", default=env_value("host", "127.0.0.1"))
    add_flag(parser, "--port", "port to listen on", 4010, type=int, default=integer("port", 4010))
    add_flag(
        parser,
        "--forwarded-allow-ips",
        "proxies whose X-Forwarded-Proto/-For are believed (comma-separated, * for any): behind a TLS-terminating "
        "ingress, Mifumo's next/previous links then keep https",
        "127.0.0.1",
        default=env_value("forwarded-allow-ips"),
    )
    add_dataset_arguments(parser)
    add_flag(
        parser,
        "--fixtures",
        "JSON or YAML dataset to serve instead of the generated one",
        "generated",
        type=Path,
        default=env_value("fixtures"),
    )
    add_flag(parser, "--workers", "worker processes", 1, type=int, default=integer("workers", 1))
    _add_credential_arguments(parser)
    add_flag(
        parser,
        "--admin-token",
        "token the /__mock/ write and log routes require (Authorization: Bearer <token>)",
        "none: open on loopback, refused beyond it",
        default=env_value("admin-token"),
    )
    add_flag(
        parser,
        "--log-level",
        "uvicorn log level (info: one access-log line per request)",
        "info",
        default=env_value("log-level", "info"),
        choices=LOG_LEVELS,
    )
    add_flag(parser, "--latency", "MIN-MAX ms added to every request (seeded)", "none", default=env_value("latency"))
    add_flag(
        parser,
        "--error-rate",
        "fraction of requests answered with the documented 500 (seeded)",
        0.0,
        type=float,
        default=number("error-rate", 0.0, float),
    )
    add_flag(
        parser,
        "--rate-limit",
        "enforce WePay's 30 requests per endpoint per App-Id per 10 s",
        "off",
        action="store_true",
        default=switch("rate-limit"),
    )
    add_flag(
        parser,
        "--cors-origins",
        "comma-separated browser origins (no port: any port); 'none' disables",
        ",".join(DEFAULT_CORS_ORIGINS),
        default=env_value("cors-origins", ",".join(DEFAULT_CORS_ORIGINS)),
    )
    add_flag(
        parser,
        "--reload",
        "rebuild when the spec or the fixtures file changes; a bad edit keeps the last good version",
        "off",
        action="store_true",
        default=switch("reload"),
    )
    parser.add_argument("--spec", type=Path, default=env_value("spec", str(DEFAULT_SPEC_PATH)), help=argparse.SUPPRESS)
    return parser


def dump_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="billing-mock fixtures dump", description="Write the generated dataset.")
    add_dataset_arguments(parser)
    parser.add_argument("--format", choices=("json", "yaml"), default="json", help="(default: json)")
    parser.add_argument("--output", "-o", type=Path, default=None, help="file to write (default: stdout)")
    return parser


def credentials_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="billing-mock credentials",
        description="Print the mock's credentials as the conformance suite's variables, ready for eval.",
    )
    _add_credential_arguments(parser)
    return parser


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
    for flag in ("--bearer-token", "--app-id", "--app-token"):
        _check_token(flag, getattr(args, flag[2:].replace("-", "_")))


def config_from_environment() -> MockConfig:
    return config_from_args(serve_parser().parse_args([]))


def app_from_environment() -> MockApp:
    """uvicorn factory for worker processes: the parent exported the configuration."""
    return create_app(config_from_environment())


# The conformance suite's variables (billing-conformance reads them), so a run can follow the banner.
SUITE_URL_VARIABLES = ("BILLING_MIFUMO_URL", "BILLING_WEPAY_URL")


def suite_exports(credentials: Credentials) -> str:
    """`export` line for the suite's credential variables, quoted for any POSIX shell."""
    values = {
        "BILLING_BEARER_TOKEN": credentials.bearer_token,
        "BILLING_APP_ID": credentials.app_id,
        "BILLING_APP_TOKEN": credentials.app_token,
    }
    return "export " + " ".join(f"{name}={shlex.quote(value)}" for name, value in values.items())


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


def _export(args: argparse.Namespace) -> None:
    for name in (
        "host",
        "port",
        "seed",
        "records",
        "statements",
        "accounts",
        "workers",
        "bearer_token",
        "app_id",
        "app_token",
        "log_level",
        "spec",
        "fixtures",
        "admin_token",
        "latency",
        "error_rate",
        "rate_limit",
        "cors_origins",
    ):
        value = getattr(args, name)
        if value is not None:
            os.environ[ENV_PREFIX + name.upper()] = str(value)


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


def serve(argv: Sequence[str]) -> int:
    stop_on_sigterm()
    args = serve_parser().parse_args(argv)
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
        _export(args)
        assert state_dir is not None
        os.environ[STATE_DIR_VARIABLE] = str(state_dir)
        try:
            factory = "mock_server.cli:app_from_environment"
            uvicorn.run(factory, factory=True, workers=args.workers, lifespan="off", **common)
        finally:
            shutil.rmtree(state_dir, ignore_errors=True)
    return 0


def dump(argv: Sequence[str]) -> int:
    args = dump_parser().parse_args(argv)
    dataset = generate_dataset(args.seed, DatasetSize(args.records, args.statements, args.accounts), Spec.load())
    if args.output is None:
        dump_dataset(dataset, sys.stdout, args.format)
    else:
        with args.output.open("w", encoding="utf-8") as stream:
            dump_dataset(dataset, stream, args.format)
    return 0


def credentials(argv: Sequence[str]) -> int:
    """`eval "$(billing-mock credentials)"`: works whichever python3 comes first on PATH."""
    args = credentials_parser().parse_args(argv)
    _check_credentials(args)
    print(suite_exports(Credentials(args.bearer_token, args.app_id, args.app_token)))
    return 0


def run(argv: Sequence[str]) -> int:
    if argv[:2] == ["fixtures", "dump"]:
        return dump(argv[2:])
    if argv[:1] == ["credentials"]:
        return credentials(argv[1:])
    if argv[:1] == ["proxy"]:
        from mock_server.proxy.cli import proxy  # the proxy's parser builds on this module's

        return proxy(argv[1:])
    if argv[:1] == ["fixtures"]:
        raise ConfigurationError("usage: billing-mock fixtures dump [--seed N] [--format json|yaml] [--output PATH]")
    return serve(argv)


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
