"""Worker scaling: `--workers 2` against `--workers 1` on the default dataset, side by side in one run
(servers not pinned: both CPUs, shared with the load generator). Whether cost depends on the data is
measured in instructions per request by `instructions.py` (wall-clock ratios scatter too much here).

    python bench/workers.py [--quick] [--duration S] [--rounds N] [--connections C] [--distinct]
"""

from __future__ import annotations

import argparse
import contextlib

import _harness as h

CASES: list[h.Case] = [("Mifumo page 1", h.MIFUMO, h.mifumo_headers), ("WePay page 1", h.WEPAY, h.wepay_headers)]


def workers(args: argparse.Namespace) -> None:
    with contextlib.ExitStack() as stack:
        servers = []
        for count in (1, 2):
            port = h.free_port()
            name = "1 worker" if count == 1 else f"{count} workers"
            servers.append(
                stack.enter_context(
                    h.server(
                        name,
                        h.mock_argv(port, "--workers", str(count)),
                        "/__mock/health",
                        {},
                        port,
                        args.startup_timeout,
                        cpus=h.ALL_CPUS,
                    )
                )
            )
        med = h.interleaved(args, [h.Target(srv.name, srv, distinct=args.distinct) for srv in servers], CASES)
    rows = []
    for label, _, _ in CASES:
        one, two = med[(label, "1 worker")], med[(label, "2 workers")]
        rows.append([label, one.rps, one.p99_ms, two.rps, two.p99_ms, h.ratio(two.rps, one.rps)])
    print(
        h.table(
            f"--workers 2 vs 1, default dataset, c={args.connections}, server on CPUs {h.ALL_CPUS} "
            f"(shared with the load generator on CPU {h.LOAD_CPU})",
            ["case", "1 worker req/s", "p99 ms", "2 workers req/s", "p99 ms", "2w/1w"],
            rows,
        )
    )
    print("RSS (MiB): " + ", ".join(f"{s.name} {max(s.rss):,.0f}" for s in servers))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="workers.py", description=__doc__.split("\n\n")[0])
    h.add_common_options(parser)
    parser.add_argument(
        "--distinct", action="store_true", help="make every request distinct (wrk only), so no answer is replayed"
    )
    args = h.parse(parser, argv)
    print(f"# Workers — {h.describe(args)}" + ("; every request distinct (no replay)" if args.distinct else ""))
    workers(args)


if __name__ == "__main__":
    main()
