"""Latency and throughput through the validating proxy against the mock directly, in the same run.

The mock serves both APIs; `billing-mock proxy` forwards both to it, checking every exchange (request
parameters and credentials, documented status, body schema, links, version echo) and relaying the
answer; so does the same proxy forwarding with httpcore's connection pool instead of its own HTTP/1.1
client (bench/httpcore_proxy.py), the one difference between the two proxy rows. A proxy's upstream is
another machine in use: here each proxy has the server CPU to itself (they are loaded in turn) and the mock
shares the other with the load generator, in every row alike (the mock directly and through a proxy).
Each endpoint is loaded with identical requests (the mock replays its answer) and with every request
distinct (an ignored `bench_request=<n>`: the mock decides each afresh, the proxy checks each).
Runs are interleaved (mock, proxy, httpcore proxy, mock, ...) and repeated; the table shows medians and same-run ratios
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
# The proxies compared with the mock: the shipped one (mock_server/proxy/http1.py forwarding) and the same
# proxy forwarding with httpcore's connection pool (bench/httpcore_proxy.py), everything else equal.
PROXIES = (("proxy", "proxy, http1.py"), ("httpcore", "proxy, httpcore"))


def proxy_argv(port: int, upstream: str) -> list[str]:
    command = str(Path(sys.executable).with_name("billing-mock"))
    return [command, "proxy", *_proxy_flags(port, upstream)]


def httpcore_proxy_argv(port: int, upstream: str) -> list[str]:
    return [sys.executable, str(h.BENCH / "httpcore_proxy.py"), *_proxy_flags(port, upstream)]


def _proxy_flags(port: int, upstream: str) -> list[str]:
    return ["--port", str(port), "--log-level", "warning", "--mifumo-upstream", upstream, "--wepay-upstream", upstream]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="proxy.py", description=__doc__.split("\n\n")[0])
    h.add_common_options(parser)
    args = h.parse(parser, argv)
    print(f"# Proxy — {h.describe(args)}; the upstream mock on CPU {h.LOAD_CPU}, beside the load")
    with contextlib.ExitStack() as stack:
        port = h.free_port()
        mock = stack.enter_context(h.server("mock", h.mock_argv(port), "/__mock/health", {}, port, cpus=h.LOAD_CPU))
        servers = {"mock": mock}
        for name, argv_of in (("proxy", proxy_argv), ("httpcore", httpcore_proxy_argv)):
            port = h.free_port()
            servers[name] = stack.enter_context(h.server(name, argv_of(port, mock.url), "/__mock/health", {}, port))
        targets = [h.Target(name, server) for name, server in servers.items()]
        if args.loader == "wrk":
            targets += [h.Target(f"{name}, distinct", server, True) for name, server in servers.items()]
        medians = h.interleaved(args, targets, ENDPOINTS)
        print(h.table("Through the proxy vs the mock directly (medians)", HEADERS, _rows(medians)))


HEADERS = ["endpoint", "requests", "server", "req/s", "vs mock", "p50 ms", "vs mock", "p99 ms", "vs mock", "errors"]


def _rows(medians: dict[tuple[str, str], h.Load]) -> list[list[object]]:
    rows: list[list[object]] = []
    for (label, _, _), (case, suffix) in itertools.product(ENDPOINTS, CASES):
        if (label, "mock" + suffix) not in medians:
            continue
        direct = medians[(label, "mock" + suffix)]
        for name, shown in (("mock", "mock"), *PROXIES):
            run = medians[(label, name + suffix)]
            rows.append(
                [
                    label,
                    case,
                    shown,
                    h.fmt(run.rps, 0),
                    h.ratio(run.rps, direct.rps),
                    h.fmt(run.p50_ms, 2),
                    h.ratio(run.p50_ms, direct.p50_ms),
                    h.fmt(run.p99_ms, 2),
                    h.ratio(run.p99_ms, direct.p99_ms),
                    run.errors,
                ]
            )
    return rows


if __name__ == "__main__":
    main()
