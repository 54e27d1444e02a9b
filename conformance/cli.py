"""`billing-conformance`: run the suite against one or both APIs; exit 0 conformant, 1 failing (or the
deadline reached), 2 unusable (bad usage, or a target that does not accept connections), 130 stopped by
SIGINT or SIGTERM. The reports asked for (--junit-xml, --report-json, --report-html) are written on
every one of these endings."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any

from billing_contract import SpecError
from conformance.config import SuiteConfig, UsageError
from conformance.options import OPTIONS, Option, config_from_options
from conformance.pacing import STOP
from conformance.recorded import mask
from conformance.render import render
from conformance.report import SuiteReport
from conformance.reporting import ReportError, write_reports
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


class _Signals:
    """SIGTERM and Ctrl-C stop a run at once, also as a container's PID 1 (which the kernel spares a
    signal's default action, so `docker stop` would otherwise wait out its timeout): no request starts
    after it (`pacing.STOP`), and the one in flight is interrupted. The run then winds down without a
    request, listing what it did not run in the reports; a second signal meanwhile, or one once the run is
    over, does not cut the reports short."""

    def __init__(self) -> None:
        self.stopped_by = ""  # the signal's name
        self.over = False
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            self._previous[signum] = signal.signal(signum, self._interrupt)

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _interrupt(self, signum: int, _frame: object) -> None:
        if STOP.is_set() or self.over:
            return
        self.stopped_by = signal.Signals(signum).name
        STOP.set()
        raise KeyboardInterrupt


def _progress(line: str) -> None:
    # Once stopped, the checks not run go to the reports, not the terminal: the reason is the line to see.
    if not STOP.is_set():
        print(f"... {line}", file=sys.stderr, flush=True)


def _run(argv: Sequence[str] | None, report: SuiteReport, signals: _Signals) -> SuiteConfig | None:
    """Parse, configure and run into `report`; the config, for the reports. What ends a run without a
    verdict is recorded on the report: a usage error, an unreachable target, a signal."""
    config: SuiteConfig | None = None
    try:
        args = build_parser().parse_args(argv)
        config = config_from_options(vars(args))
        run_suite(config, None if args.quiet else _progress, report)
        if STOP.is_set():  # stopped where something caught the interruption: the report is incomplete
            raise KeyboardInterrupt
    except (UsageError, TargetUnreachable, SpecError) as exc:
        report.error = mask(str(exc), config.secrets() if config else {})
    except KeyboardInterrupt:
        report.interrupted = signals.stopped_by or "SIGINT"
    return config


def main(argv: Sequence[str] | None = None) -> int:
    STOP.clear()
    signals = _Signals()
    signals.install()
    started = time.monotonic()
    try:
        report = SuiteReport()
        config = _run(argv, report, signals)
        signals.over = True
        report.duration = report.duration or time.monotonic() - started
        if report.error:
            print(f"billing-conformance: error: {report.error}", file=sys.stderr)
        elif report.interrupted:
            print(f"billing-conformance: {report.reason}", file=sys.stderr)
        else:
            print(render(report))
        try:
            write_reports(report, argv, config)
        except ReportError as exc:
            print(f"billing-conformance: error: {exc}", file=sys.stderr)
            return 2
        return report.exit_code
    finally:
        signals.restore()


if __name__ == "__main__":
    sys.exit(main())
