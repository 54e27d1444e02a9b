"""`billing-conformance`: run the suite against one or both APIs; exit 0 conformant, 1 a check failed (or
the deadline was reached), 2 the run could not judge the backend (a bad flag, or a target that does not
answer HTTP on the API's path or refuses the credentials; one line says which), 130 interrupted."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from billing_contract import SpecError
from conformance.config import config_from_options
from conformance.errors import UsageError
from conformance.junit import prepare_report_path, write_junit
from conformance.options import OPTIONS
from conformance.pacing import STOP
from conformance.render import render
from conformance.report import SuiteReport
from conformance.version import package_version

PROG = "billing-conformance"
# A run stopped from outside (Ctrl-C, `docker stop`): incomplete, so neither conformant nor a verdict.
EXIT_INTERRUPTED = 130
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse prints the whole usage; one clear line is enough, with the same exit code.
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description=__doc__)
    for option in OPTIONS:
        parser.add_argument(f"--{option.name}", **option.argparse_kwargs())
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--version", action="store_true", help="print the suite's version and exit")
    parser.add_argument("--list-checks", action="store_true", help="list every check (name, API, kind, what it holds)")
    return parser


def _stop_on_signals() -> None:
    """SIGTERM and Ctrl-C stop a run at once, also as a container's PID 1 (which the kernel spares a
    signal's default action, so `docker stop` would otherwise wait out its timeout): no request starts
    after it (`pacing.STOP`), and the one in flight is interrupted."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _interrupt)


def _interrupt(_signum: int, _frame: object) -> None:
    STOP.set()
    raise KeyboardInterrupt


def _run(args: argparse.Namespace) -> tuple[SuiteReport, Path | None]:
    """Check the flags (the report's path included) before the first request, then run."""
    from conformance.runner import run_suite  # Schemathesis loads here, not for --version or a bad flag

    config = config_from_options(vars(args))
    junit = prepare_report_path(config.junit_xml) if config.junit_xml else None
    progress = None if args.quiet else (lambda line: print(f"... {line}", file=sys.stderr, flush=True))
    report = run_suite(config, progress)
    if STOP.is_set():  # stopped where something caught the interruption: the report is incomplete
        raise KeyboardInterrupt
    return report, junit


def _error(message: object) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    STOP.clear()
    _stop_on_signals()
    try:
        args = build_parser().parse_args(argv)
        if args.version:
            print(f"{PROG} {package_version()}")
            return 0
        if args.list_checks:
            from conformance.catalog import render_catalog

            print(render_catalog())
            return 0
        report, junit = _run(args)
    except (UsageError, SpecError) as exc:
        return _error(exc)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted: the run is incomplete (no verdict)", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(render(report))
    if junit:
        try:
            write_junit(report, junit)
        except OSError as exc:
            return _error(f"--junit-xml {junit}: the report could not be written: {exc.strerror or exc}")
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
