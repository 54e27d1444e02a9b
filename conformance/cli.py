"""`billing-conformance`: run the suite against one or both APIs; exit 0 conformant, 1 failing (or the
deadline reached), 2 unusable (bad usage, or a target that does not accept connections)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from conformance.config import DEFAULT_MAX_EXAMPLES, DEFAULT_SEED, SuiteConfig, UsageError
from conformance.junit import write_junit
from conformance.render import render
from conformance.runner import TargetUnreachable, run_suite
from mock_server.security import DEFAULT_APP_ID, DEFAULT_APP_TOKEN, DEFAULT_BEARER_TOKEN
from mock_server.spec import SpecError

ENV_PREFIX = "BILLING_"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse prints the whole usage; one clear line is enough, with the same exit code.
        raise UsageError(message)


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(ENV_PREFIX + name, default)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="billing-conformance", description=__doc__)
    add = parser.add_argument
    add("--mifumo-url", default=_env("MIFUMO_URL"), help="Mifumo base URL [BILLING_MIFUMO_URL]")
    add("--wepay-url", default=_env("WEPAY_URL"), help="WePay base URL [BILLING_WEPAY_URL]")
    add("--bearer-token", default=_env("BEARER_TOKEN", DEFAULT_BEARER_TOKEN), help="[BILLING_BEARER_TOKEN]")
    add("--app-id", default=_env("APP_ID", DEFAULT_APP_ID), help="[BILLING_APP_ID]")
    add("--app-token", default=_env("APP_TOKEN", DEFAULT_APP_TOKEN), help="[BILLING_APP_TOKEN]")
    add("--api-version", default=_env("API_VERSION", "3.0"), help="WePay Api-Version [BILLING_API_VERSION]")
    add(
        "--seed",
        type=int,
        default=int(_env("SEED", str(DEFAULT_SEED)) or DEFAULT_SEED),
        help="[BILLING_SEED]",
    )
    add(
        "--max-examples",
        type=int,
        default=int(_env("MAX_EXAMPLES", str(DEFAULT_MAX_EXAMPLES)) or 0),
        help="Schemathesis examples per operation [BILLING_MAX_EXAMPLES]",
    )
    add("--junit-xml", default=_env("JUNIT_XML"), help="write a JUnit XML report here [BILLING_JUNIT_XML]")
    add("--exclude-check", action="append", default=[], metavar="NAME", help="skip a check (repeatable)")
    add(
        "--timeout",
        type=float,
        default=float(_env("TIMEOUT", "10") or 10),
        help="seconds per request [BILLING_TIMEOUT]",
    )
    add(
        "--deadline",
        type=float,
        default=_float(_env("DEADLINE")),
        help="seconds for the whole run; reaching it fails the run (exit 1) [BILLING_DEADLINE]",
    )
    add(
        "--max-rate",
        type=float,
        default=_float(_env("MAX_RATE")),
        help="at most N requests in any second, both phases [BILLING_MAX_RATE]",
    )
    add("--quiet", action="store_true", help="no progress lines")
    return parser


def _float(value: str | None) -> float | None:
    return float(value) if value else None


def config_from_args(args: argparse.Namespace) -> SuiteConfig:
    excluded = {name for item in args.exclude_check for name in item.split(",") if name}
    return SuiteConfig(
        mifumo_url=args.mifumo_url,
        wepay_url=args.wepay_url,
        bearer_token=args.bearer_token,
        app_id=args.app_id,
        app_token=args.app_token,
        api_version=args.api_version,
        seed=args.seed,
        max_examples=args.max_examples,
        exclude_checks=frozenset(excluded),
        timeout=args.timeout,
        deadline=args.deadline,
        max_rate=args.max_rate,
    )


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        config = config_from_args(args)
        progress = None if args.quiet else (lambda line: print(f"... {line}", file=sys.stderr, flush=True))
        report = run_suite(config, progress)
    except (UsageError, TargetUnreachable, SpecError) as exc:
        print(f"billing-conformance: error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # a bad number in an environment variable
        print(f"billing-conformance: error: {exc}", file=sys.stderr)
        return 2
    print(render(report))
    if args.junit_xml:
        write_junit(report, args.junit_xml)
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
