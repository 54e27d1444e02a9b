"""Cost independent of data, and worker scaling.

1. Two mocks side by side, 1 worker each: a small dataset (1,000 records, 1,000 statements) and a
   big one (1,000,000 Mifumo records; 100,000 WePay statements). On each: page 1 vs the deepest page
   (the last Mifumo page; a WePay cursor whose page ends the collection), unfiltered and filtered
   (Mifumo `type=usage`; WePay `account_id=<an owner>`). Deep WePay cursors are minted with the
   mock's own CursorCodec (seed + fingerprint from /__mock/dataset), by bisecting for the last offset.
2. `--workers 2` vs `--workers 1` on the default dataset (server not pinned: both CPUs, shared with
   the load generator).

    python bench/scaling.py [--quick] [--big-records N] [--big-statements N] [--skip-big] [--skip-workers]
"""

from __future__ import annotations

import argparse
import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass

import _harness as h
import httpx


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    headers: Callable[[], dict[str, str]]


def _deep_cursor(client: httpx.Client, base: str, query: str) -> str | None:
    """A cursor (for the page size and filters of `query`'s first page) whose page is the last one."""
    from mock_server.cursors import CursorCodec, CursorState, InvalidCursor

    first = client.get(f"{base}{h.WEPAY}{query}", headers=h.wepay_headers()).json()
    if first["next"] is None:
        return None
    info = client.get(f"{base}/__mock/dataset").json()
    codec = CursorCodec.for_dataset(info["seed"], info["fingerprint"])
    try:
        state = codec.decode(first["next"].split("page=", 1)[1])
    except InvalidCursor:
        return None

    def results(offset: int) -> int:
        token = codec.encode(CursorState(offset, state.page_size, state.filters))
        return len(client.get(f"{base}{h.WEPAY}?page={token}", headers=h.wepay_headers()).json()["results"])

    lo, hi = 0, info["wepay"]["statements"]  # results(lo) > 0; results(hi) == 0
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if results(mid) else (lo, mid)
    return codec.encode(CursorState(max(0, lo - state.page_size + 1), state.page_size, state.filters))


def cases(base: str) -> list[Case]:
    with httpx.Client(timeout=30) as client:
        count = client.get(base + h.MIFUMO, headers=h.mifumo_headers()).json()["count"]
        usage = client.get(base + h.MIFUMO + "?type=usage", headers=h.mifumo_headers()).json()["count"]
        first = client.get(base + h.WEPAY + "?page_size=100", headers=h.wepay_headers()).json()["results"]
        owner = next(s["owner"]["id"] for s in first if s["owner"])
        found = [
            Case("Mifumo page 1", h.MIFUMO, h.mifumo_headers),
            Case("Mifumo last page", f"{h.MIFUMO}?page={math.ceil(count / 20)}", h.mifumo_headers),
            Case("Mifumo type=usage page 1", f"{h.MIFUMO}?type=usage", h.mifumo_headers),
            Case(
                "Mifumo type=usage last page", f"{h.MIFUMO}?type=usage&page={math.ceil(usage / 20)}", h.mifumo_headers
            ),
            Case("WePay page 1", h.WEPAY, h.wepay_headers),
        ]
        deep = _deep_cursor(client, base, "")
        if deep:
            found.append(Case("WePay last cursor", f"{h.WEPAY}?page={deep}", h.wepay_headers))
        found.append(Case("WePay account_id page 1", f"{h.WEPAY}?account_id={owner}", h.wepay_headers))
        deep = _deep_cursor(client, base, f"?account_id={owner}")
        if deep:
            found.append(Case("WePay account_id last cursor", f"{h.WEPAY}?page={deep}", h.wepay_headers))
    return found


def measure(
    args: argparse.Namespace, servers: list[h.Server], work: dict[str, list[Case]]
) -> dict[tuple[str, str], h.Load]:
    for srv in servers:
        for case in work[srv.name]:
            h.warm_up(args, srv.url + case.path, case.headers())
    runs: dict[tuple[str, str], list[h.Load]] = {}
    for round_ in range(args.rounds):
        for case_index in range(max(len(c) for c in work.values())):
            for srv in servers:
                if case_index >= len(work[srv.name]):
                    continue
                case = work[srv.name][case_index]
                h.check(srv.url + case.path, case.headers())
                result = h.load(
                    args.loader,
                    srv.url + case.path,
                    case.headers(),
                    args.duration,
                    args.connections,
                    distinct=args.distinct,
                )
                runs.setdefault((case.name, srv.name), []).append(result)
                srv.sample_rss()
                print(
                    f"  round {round_ + 1} {case.name:29} {srv.name:10} {result.rps:9,.0f} req/s "
                    f"p99 {result.p99_ms:7.2f} ms",
                    flush=True,
                )
    return {key: h.median_load(value) for key, value in runs.items()}


def data_independence(args: argparse.Namespace) -> None:
    small_size = ["--records", "1000", "--statements", "1000"]
    big_size = ["--records", str(args.big_records), "--statements", str(args.big_statements)]
    with contextlib.ExitStack() as stack:
        servers = []
        for name, size in (("small", small_size), ("big", big_size)):
            port = h.free_port()
            print(f"  starting {name} mock ({' '.join(size)}) ...", flush=True)
            servers.append(
                stack.enter_context(
                    h.server(name, h.mock_argv(port, *size), "/__mock/health", {}, port, args.startup_timeout)
                )
            )
            print(
                f"  {name} ready in {servers[-1].startup_s:.1f} s, RSS {servers[-1].sample_rss():,.0f} MiB", flush=True
            )
        work = {srv.name: cases(srv.url) for srv in servers}
        med = measure(args, servers, work)
    rows = []
    for case in work["small"]:
        small, big = med[(case.name, "small")], med.get((case.name, "big"))
        page1 = case.name.replace("last page", "page 1").replace("last cursor", "page 1")
        rows.append(
            [
                case.name,
                small.rps,
                small.p99_ms,
                big.rps if big else None,
                big.p99_ms if big else None,
                h.ratio(big.rps, small.rps) if big else None,
                h.ratio(small.rps, med[(page1, "small")].rps),
                h.ratio(big.rps, med[(page1, "big")].rps) if big else None,
            ]
        )
    print(
        h.table(
            f"Cost vs dataset size and depth, 1 worker, c={args.connections} (medians of {args.rounds}); "
            f"small = 1,000 records / 1,000 statements, big = {args.big_records:,} records / "
            f"{args.big_statements:,} statements",
            [
                "case",
                "small req/s",
                "small p99 ms",
                "big req/s",
                "big p99 ms",
                "big/small",
                "vs page 1 (small)",
                "vs page 1 (big)",
            ],
            rows,
        )
    )
    print("Start-up (s) / RSS (MiB): " + ", ".join(f"{s.name} {s.startup_s:.1f} / {max(s.rss):,.0f}" for s in servers))


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
        work = {
            srv.name: [
                Case("Mifumo page 1", h.MIFUMO, h.mifumo_headers),
                Case("WePay page 1", h.WEPAY, h.wepay_headers),
            ]
            for srv in servers
        }
        med = measure(args, servers, work)
    rows = []
    for case in work["1 worker"]:
        one, two = med[(case.name, "1 worker")], med[(case.name, "2 workers")]
        rows.append([case.name, one.rps, one.p99_ms, two.rps, two.p99_ms, h.ratio(two.rps, one.rps)])
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
    parser = argparse.ArgumentParser(prog="scaling.py", description=__doc__.split("\n\n")[0])
    h.add_common_options(parser)
    parser.add_argument("--big-records", type=int, default=1_000_000)
    parser.add_argument("--big-statements", type=int, default=100_000)
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--skip-workers", action="store_true")
    parser.add_argument(
        "--distinct", action="store_true", help="make every request distinct (wrk only), so no answer is replayed"
    )
    args = h.parse(parser, argv)
    print(f"# Scaling — {h.describe(args)}" + ("; every request distinct (no replay)" if args.distinct else ""))
    if not args.skip_big:
        data_independence(args)
    if not args.skip_workers:
        workers(args)


if __name__ == "__main__":
    main()
