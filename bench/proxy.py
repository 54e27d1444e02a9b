"""Latency and throughput through the validating proxy against the mock directly, in the same run.

The mock serves both APIs; `billing-mock proxy` forwards both to it, checking every exchange (request
parameters and credentials, documented status, body schema, links, version echo) and relaying the
answer. A proxy's upstream is another machine in use: here the proxy has the server CPU to itself and the
mock shares the other with the load generator, in both columns alike (the mock directly and through the
proxy). Each endpoint is loaded with identical requests (the mock replays its answer) and with every
request distinct (an ignored `bench_request=<n>`: the mock decides each afresh, the proxy checks each).
Runs are interleaved (mock, proxy, mock, ...) and repeated; the table shows medians and same-run ratios
(aim: proxy latency at most twice the mock's at 16 connections).

    python bench/proxy.py [--quick] [--duration S] [--rounds N] [--connections C] [--loader wrk|python]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import sys
from pathlib import Path

import _harness as h

ENDPOINTS = (("Mifumo list", h.MIFUMO, h.mifumo_headers), ("WePay list", h.WEPAY, h.wepay_headers))
CASES = (("identical", ""), ("distinct", ", distinct"))


def proxy_argv(port: int, upstream: str) -> list[str]:
    command = str(Path(sys.executable).with_name("billing-mock"))
    return [command, "proxy", "--port", str(port), "--log-level", "warning",
            "--mifumo-upstream", upstream, "--wepay-upstream", upstream]  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="proxy.py", description=__doc__.split("\n\n")[0])
    h.add_common_options(parser)
    args = h.parse(parser, argv)
    print(f"# Proxy — {h.describe(args)}; the upstream mock on CPU {h.LOAD_CPU}, beside the load")
    with contextlib.ExitStack() as stack:
        port = h.free_port()
        mock = stack.enter_context(h.server("mock", h.mock_argv(port), "/__mock/health", {}, port, cpus=h.LOAD_CPU))
        port = h.free_port()
        proxy = stack.enter_context(h.server("proxy", proxy_argv(port, mock.url), "/__mock/health", {}, port))
        targets = [h.Target("mock", mock), h.Target("proxy", proxy)]
        if args.loader == "wrk":
            targets += [h.Target("mock, distinct", mock, True), h.Target("proxy, distinct", proxy, True)]
        medians = h.interleaved(args, targets, ENDPOINTS)
        rows = []
        for (label, _, _), (case, suffix) in itertools.product(ENDPOINTS, CASES):
            if (label, "mock" + suffix) not in medians:
                continue
            direct, proxied = medians[(label, "mock" + suffix)], medians[(label, "proxy" + suffix)]
            rows.append(
                [
                    label,
                    case,
                    h.fmt(direct.rps, 0),
                    h.fmt(proxied.rps, 0),
                    h.ratio(proxied.rps, direct.rps),
                    f"{h.fmt(direct.p50_ms, 2)} / {h.fmt(proxied.p50_ms, 2)}",
                    h.ratio(proxied.p50_ms, direct.p50_ms),
                    f"{h.fmt(direct.p99_ms, 2)} / {h.fmt(proxied.p99_ms, 2)}",
                    h.ratio(proxied.p99_ms, direct.p99_ms),
                    direct.errors + proxied.errors,
                ]
            )
        print(
            h.table(
                "Through the proxy vs the mock directly (medians)",
                [
                    "endpoint",
                    "requests",
                    "mock req/s",
                    "proxy req/s",
                    "proxy/mock",
                    "p50 ms mock / proxy",
                    "p50 ratio",
                    "p99 ms mock / proxy",
                    "p99 ratio",
                    "errors",
                ],
                rows,
            )
        )


if __name__ == "__main__":
    main()
