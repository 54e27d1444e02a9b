"""`billing-conformance`: run the suite against one or both APIs; exit 0 conformant, 1 failing (or the
deadline reached), 2 unusable (bad usage, or a target that does not accept connections)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence

from billing_contract import SpecError
from conformance.config import UsageError
from conformance.junit import write_junit
from conformance.options import OPTIONS, Option, config_from_options
from conformance.pacing import STOP
from conformance.render import render
from conformance.runner import TargetUnreachable, run_suite


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse prints the whole usage; one clear line is enough, with the same exit code.
        raise UsageError(message)


def _add(parser: argparse.ArgumentParser, option: Option) -> None:
    flag = f"--{option.name}"
    if option.repeatable:
        parser.add_argument(flag, action="append", default=[], metavar="NAME", help=option.describe())
    else:
        parser.add_argument(flag, type=option.kind, default=None, help=option.describe())


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="billing-conformance", description=__doc__)
    for option in OPTIONS:
        _add(parser, option)
    parser.add_argument("--junit-xml", default=None, help="write a JUnit XML report here [BILLING_JUNIT_XML]")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser


# A run stopped from outside (Ctrl-C, `docker stop`): incomplete, so neither conformant nor a verdict.
EXIT_INTERRUPTED = 130


def _stop_on_signals() -> None:
    """SIGTERM and Ctrl-C stop a run at once, also as a container's PID 1 (which the kernel spares a
    signal's default action, so `docker stop` would otherwise wait out its timeout): no request starts
    after it (`pacing.STOP`), and the one in flight is interrupted."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _interrupt)


def _interrupt(_signum: int, _frame: object) -> None:
    STOP.set()
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    STOP.clear()
    _stop_on_signals()
    try:
        args = build_parser().parse_args(argv)
        config = config_from_options(vars(args))
        progress = None if args.quiet else (lambda line: print(f"... {line}", file=sys.stderr, flush=True))
        report = run_suite(config, progress)
        if STOP.is_set():  # stopped where something caught the interruption: the report is incomplete
            raise KeyboardInterrupt
    except (UsageError, TargetUnreachable, SpecError) as exc:
        print(f"billing-conformance: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("billing-conformance: interrupted: the run is incomplete (no verdict)", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(render(report))
    junit_xml = args.junit_xml or os.environ.get("BILLING_JUNIT_XML")
    if junit_xml:
        write_junit(report, junit_xml)
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
