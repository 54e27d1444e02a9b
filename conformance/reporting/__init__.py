"""The suite's report files, written on every ending of a run (a verdict, a usage error, an interruption):
JUnit XML (`conformance.junit`), JSON (`json_report`, its shape in `report.schema.json`) and one HTML
page (`html_report`). `write_reports` is the one place the CLI writes them from."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from conformance.config import SuiteConfig
from conformance.junit import write_junit
from conformance.options import OPTIONS, REPORT_FIELDS
from conformance.report import SuiteReport
from conformance.reporting.html_report import write_html
from conformance.reporting.json_report import SCHEMA_PATH, write_json
from conformance.reporting.run_info import RunInfo, run_info

__all__ = ["SCHEMA_PATH", "ReportError", "RunInfo", "run_info", "write_reports"]


class ReportError(Exception):
    """A report file could not be written (the CLI exits 2 naming it)."""


class _Quiet(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # the CLI's own parser says what is wrong, once
        raise ValueError(message)


def given_options(argv: Sequence[str] | None) -> dict[str, Any]:
    """Every option as given on the command line, unchecked (raw text, unknown flags ignored): where a run
    writes its reports, and what a run whose flags are wrong still reports (its targets, settings)."""
    parser = _Quiet(add_help=False)
    for option in OPTIONS:
        kwargs = option.argparse_kwargs()
        kwargs.pop("type", None)  # raw text: a bad value is the CLI parser's to refuse
        parser.add_argument(f"--{option.name}", **kwargs)
    try:
        known, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    except ValueError:
        return {}
    return vars(known)


def report_paths(given: Mapping[str, Any]) -> dict[str, Any]:
    """The report files asked for (flag, else variable), keyed by field; None where not asked."""
    return {o.field: o.resolve(given.get(o.field), os.environ) for o in OPTIONS if o.field in REPORT_FIELDS}


def write_reports(report: SuiteReport, argv: Sequence[str] | None, config: SuiteConfig | None) -> list[Path]:
    """Write each report the command line (`argv`, else sys.argv) or its variables ask for; the files
    written. `config` is None when the flags could not make one (a usage error)."""
    given = given_options(argv)
    info = run_info(config, given)
    writers = {
        "junit_xml": lambda path: write_junit(report, path),
        "report_json": lambda path: write_json(report, info, path),
        "report_html": lambda path: write_html(report, info, path),
    }
    written = []
    paths = report_paths(given)
    for field, write in writers.items():
        if not paths.get(field):
            continue
        path = Path(paths[field])
        try:
            write(path)
        except OSError as exc:
            raise ReportError(f"cannot write {path}: {exc.strerror or exc}") from None
        written.append(path)
    return written
