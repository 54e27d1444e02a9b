"""`billing-conformance`: run the suite against one or both APIs; exit 0 conformant, 1 a check failed (or
the deadline was reached), 2 the run could not judge the backend (a bad flag, or a target that does not
answer HTTP on the API's path or refuses the credentials; one line says which), 130 interrupted. The
reports asked for (--junit-xml, --report-json, --report-html) are written on every one of these endings."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any

from billing_contract import SpecError
from conformance.config import SuiteConfig, config_from_options
from conformance.errors import UsageError
from conformance.junit import prepare_report_path
from conformance.options import OPTIONS
from conformance.pacing import STOP
from conformance.progress import Progress
from conformance.recorded import mask
from conformance.render import render
from conformance.report import SuiteReport
from conformance.reporting import ReportError, write_reports
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


def _write_progress(line: str) -> None:
    """A progress line on stderr; a live status line (it starts with a carriage return, on a terminal) is
    rewritten in place. Once stopped, the checks not run go to the reports, not the terminal: the reason is
    the line to see."""
    if STOP.is_set():
        return
    if line.startswith("\r"):
        sys.stderr.write(line)
        sys.stderr.flush()
    else:
        live = sys.stderr.isatty()
        print(("\r\x1b[2K" if live else "") + f"... {line}", file=sys.stderr, flush=True)


def _progress(config: SuiteConfig) -> Progress:
    return Progress(_write_progress, max_rate=config.max_rate, live=sys.stderr.isatty())


def _run(args: argparse.Namespace, report: SuiteReport, signals: _Signals) -> SuiteConfig | None:
    """Check the flags (the reports' paths included) before the first request, then run into `report`; the
    config, for the reports. What ends a run without a verdict is recorded on the report: a usage error
    (an unreachable target, refused credentials), a signal."""
    config: SuiteConfig | None = None
    try:
        from conformance.runner import run_suite  # Schemathesis loads here, not for --version or a bad flag

        config = config_from_options(vars(args))
        for path in (config.junit_xml, config.report_json, config.report_html):
            if path:
                prepare_report_path(path)
        run_suite(config, None if args.quiet else _progress(config), report)
        if STOP.is_set():  # stopped where something caught the interruption: the report is incomplete
            raise KeyboardInterrupt
    except (UsageError, SpecError) as exc:
        report.error = mask(str(exc), config.secrets() if config else {})
    except KeyboardInterrupt:
        report.interrupted = signals.stopped_by or "SIGINT"
    return config


def _informational(args: argparse.Namespace) -> bool:
    """--version and --list-checks: answered without a run (and without loading Schemathesis)."""
    if args.version:
        print(f"{PROG} {package_version()}")
    elif args.list_checks:
        from conformance.catalog import render_catalog

        print(render_catalog())
    return bool(args.version or args.list_checks)


def main(argv: Sequence[str] | None = None) -> int:
    STOP.clear()
    signals = _Signals()
    signals.install()
    started = time.monotonic()
    report = SuiteReport()
    config: SuiteConfig | None = None
    try:
        try:
            args = build_parser().parse_args(argv)
        except UsageError as exc:
            report.error = str(exc)
        else:
            if _informational(args):
                return 0
            config = _run(args, report, signals)
        signals.over = True
        report.duration = report.duration or time.monotonic() - started
        if report.error:
            print(f"{PROG}: error: {report.error}", file=sys.stderr)
        elif report.interrupted:
            print(f"{PROG}: {report.reason}", file=sys.stderr)
        else:
            print(render(report))
        try:
            write_reports(report, argv, config)
        except ReportError as exc:
            if not report.error:  # a report path the flags' check refused is already the one line said
                print(f"{PROG}: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        return report.exit_code
    finally:
        signals.restore()


if __name__ == "__main__":
    sys.exit(main())
