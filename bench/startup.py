"""Start-up time and memory, and the conformance suite's duration against the mock.

Start-up is the wall time from exec to the first 200 from /__mock/health (the dataset is generated,
sorted and encoded before the port is bound). RSS is read right after that; peak is VmHWM. The
default dataset is started `--rounds` times (median); 1,000,000 records once (bounded by
`--startup-timeout`). The conformance row times `billing-conformance --mifumo-url URL --wepay-url URL`
(its default run) against a default-dataset mock; "n/a" when the command is not installed.

    python bench/startup.py [--quick] [--big-records N] [--startup-timeout S] [--skip-big] [--skip-conformance]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import _harness as h


def start_once(name: str, extra: list[str], timeout: float) -> tuple[float, float, float] | str:
    port = h.free_port()
    try:
        with h.server(name, h.mock_argv(port, *extra), "/__mock/health", {}, port, timeout) as srv:
            return srv.startup_s, h.rss_mib(srv.process.pid), h.rss_mib(srv.process.pid, "VmHWM:")
    except (TimeoutError, RuntimeError) as exc:
        return str(exc)


def startup(args: argparse.Namespace) -> None:
    sizes = [("default dataset", [], args.rounds)]
    if not args.skip_big:
        sizes.append((f"big, {args.big_records:,} records", ["--records", str(args.big_records)], 1))
    rows: list[list[object]] = []
    for label, extra, rounds in sizes:
        results = []
        for _ in range(rounds):
            print(f"  starting the mock with {label} ...", flush=True)
            result = start_once(label.split()[0], extra, args.startup_timeout)
            if isinstance(result, str):
                rows.append([label, f"failed: {result}", None, None, 0])
                break
            results.append(result)
        else:
            rows.append([label, *(h.median([r[i] for r in results]) for i in range(3)), len(results)])
    print(
        h.table(
            "Start-up to first 200 (1 worker, server on CPU 0)",
            ["dataset", "start-up s", "RSS MiB", "peak RSS MiB", "runs"],
            rows,
        )
    )


def conformance(args: argparse.Namespace) -> None:
    command = shutil.which("billing-conformance") or str(Path(sys.executable).with_name("billing-conformance"))
    if not Path(command).exists():
        print(h.table("Conformance suite, default run", ["target", "duration s", "exit"], [["mock", None, None]]))
        return
    port = h.free_port()
    with h.server(
        "conformance-target", h.mock_argv(port), "/__mock/health", {}, port, args.startup_timeout, cpus=None
    ) as srv:
        started = time.monotonic()
        try:
            done = subprocess.run(
                [command, "--mifumo-url", srv.url, "--wepay-url", srv.url],
                capture_output=True,
                text=True,
                timeout=args.conformance_timeout,
                env={**os.environ, **h.suite_credentials()},  # the suite has no defaults: the mock's
            )
            duration, code = time.monotonic() - started, str(done.returncode)
            tail = (done.stdout + done.stderr).strip().splitlines()[-1:]
        except subprocess.TimeoutExpired:
            duration, code, tail = float("nan"), f"timeout {args.conformance_timeout:.0f} s", []
    print(
        h.table(
            "Conformance suite, default run (billing-conformance, mock default dataset, no pinning)",
            ["target", "duration s", "exit"],
            [["mock", duration, code]],
        )
    )
    if tail:
        print(f"last line of its output: {tail[0]}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="startup.py", description=__doc__.split("\n\n")[0])
    h.add_common_options(parser)
    parser.add_argument("--big-records", type=int, default=1_000_000)
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--skip-conformance", action="store_true")
    parser.add_argument("--conformance-timeout", type=float, default=900.0)
    args = h.parse(parser, argv)
    print(f"# Start-up — {h.machine()}; {h.revision()}")
    startup(args)
    if not args.skip_conformance:
        conformance(args)


if __name__ == "__main__":
    main()
