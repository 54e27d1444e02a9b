"""Throughput of each list endpoint: the mock (1 worker, full request validation, real pagination)
vs Stoplight Prism 5 (`-v warn`, static examples from the same spec) vs a bare Starlette app on
uvicorn returning the mock's own page-1 body. All three run at once; runs are interleaved
(mock, prism, starlette, mock, ...) and repeated; the table shows medians and same-run ratios.

    python bench/throughput.py [--quick] [--duration S] [--rounds N] [--connections C] [--loader wrk|python]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
from pathlib import Path

import _harness as h

ENDPOINTS = (("Mifumo list", h.MIFUMO, h.mifumo_headers), ("WePay list", h.WEPAY, h.wepay_headers))


UNCACHED = "mock, every request distinct (no replay)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="throughput.py", description=__doc__.split("\n\n")[0])
    h.add_common_options(parser)
    parser.add_argument("--no-prism", action="store_true", help="skip Prism (no Node.js)")
    args = h.parse(parser, argv)
    print(f"# Throughput — {h.describe(args)}")
    with contextlib.ExitStack() as stack:
        port = h.free_port()
        mock = stack.enter_context(
            h.server("mock", h.mock_argv(port), "/__mock/health", {}, port, args.startup_timeout)
        )
        bodies = {path: h.check(mock.url + path, headers()).decode() for _, path, headers in ENDPOINTS}
        bodies_file = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "bodies.json"
        bodies_file.write_text(json.dumps(bodies))
        servers = [mock]
        if not args.no_prism:
            port = h.free_port()
            servers.append(
                stack.enter_context(
                    h.server("prism", h.prism_argv(port), h.MIFUMO, h.mifumo_headers(), port, args.startup_timeout)
                )
            )
        port = h.free_port()
        servers.append(
            stack.enter_context(
                h.server("starlette", h.bare_argv(port, bodies_file), h.MIFUMO, {}, port, args.startup_timeout)
            )
        )
        # The same mock twice: answers replayed, and every request distinct (connexion decides each).
        targets = [h.Target("mock", mock), h.Target(UNCACHED, mock, distinct=True)]
        targets += [h.Target(srv.name, srv) for srv in servers[1:]]
        medians = h.interleaved(args, targets, ENDPOINTS)
        rows = []
        for label, _, _ in ENDPOINTS:
            med = {target.name: medians[(label, target.name)] for target in targets}
            rss = {srv.name: max(srv.rss) for srv in servers} | {UNCACHED: max(mock.rss)}
            for name in ["mock", UNCACHED, *(srv.name for srv in servers[1:])]:
                m = med[name]
                prism = med.get("prism", h.Load(float("nan"), float("nan"), float("nan"), 0, 0))
                rows.append(
                    [
                        label,
                        name,
                        m.rps,
                        m.p50_ms,
                        m.p99_ms,
                        rss[name],
                        m.errors,
                        h.ratio(m.rps, prism.rps),
                        h.ratio(m.p99_ms, prism.p99_ms),
                        h.ratio(m.rps, med["starlette"].rps, percent=True),
                    ]
                )
        print(
            h.table(
                f"List endpoints at c={args.connections} (medians of {args.rounds})",
                [
                    "endpoint",
                    "server",
                    "req/s",
                    "p50 ms",
                    "p99 ms",
                    "RSS MiB",
                    "errors",
                    "rps vs Prism",
                    "p99 vs Prism",
                    "rps vs Starlette",
                ],
                rows,
            )
        )
        print("\nTargets: rps vs Prism >= 2.00x, p99 vs Prism <= 1.00x, rps vs Starlette >= 25%.")
        print("Start-up to first 200 (s): " + ", ".join(f"{s.name} {s.startup_s:.1f}" for s in servers))


if __name__ == "__main__":
    main()
