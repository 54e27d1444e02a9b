"""Cost independent of data, counted in CPU instructions per request instead of requests per second.

Wall-clock ratios on this shared 2-core machine scatter by about ±20 % between rounds of the same case,
more than the 10 % the flatness target allows, so load runs cannot confirm or refute it. valgrind's
callgrind counts the instructions a process executes, which do not depend on what else the machine is
doing. Here each dataset (small: 1,000 records / 1,000 statements; big: 1,000,000 / 100,000) is served
by a child Python process running under callgrind, in process (ASGI calls, no socket: uvicorn's share
is the same for every request, whatever the data). For each case and path the parent has the child warm
up, zeroes callgrind's counters, has it serve N requests, dumps the counters and divides.

Paths: "distinct" adds an ignored `bench_request=<n>` parameter to each request, so connexion routes,
authenticates, validates and answers every one; "replayed" repeats one request, answered from the
replay cache after the first. Needs valgrind (`apt-get install valgrind`); ~10 min with the defaults.

`--errors` counts, instead, the requests the compiled path hands to connexion whatever the settings: a
refused credential, an invalid parameter, a page or cursor or id the handler refuses. `--fastpath off` takes
mock_server/connexion_fastpath.py's per-operation work out of connexion's path (connexion's own operation,
decorator and request objects, as without that module), to measure what it still saves.

    python bench/instructions.py [--quick] [--requests 100] [--rounds 2] [--big-records N] [--big-statements N]
                                 [--skip-big] [--path compiled|stock] [--errors] [--fastpath on|off]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import _harness as h

MODES = ("distinct", "replayed")
# Which path answers valid requests in the child: "compiled" (mock_server.compiled, the default) or
# "stock" (connexion's whole middleware stack), for before/after figures in one run.
PATH_VARIABLE = "BILLING_BENCH_PATH"
# "off": connexion's path without mock_server/connexion_fastpath.py (see `without_fastpath`).
FASTPATH_VARIABLE = "BILLING_BENCH_FASTPATH"
# "errors": the error cases (`error_cases`) instead of the valid ones.
CASES_VARIABLE = "BILLING_BENCH_CASES"
WARM_UP_REQUESTS = 3


# -- the child: one dataset, served in process --------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    path: str
    query: str
    headers: tuple[tuple[bytes, bytes], ...]
    status: int = 200  # the answer every request of the case must get


def _encoded(headers: dict[str, str]) -> tuple[tuple[bytes, bytes], ...]:
    return (
        (b"host", b"127.0.0.1:4010"),
        *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()),
    )


class InProcessClient:
    """Calls the mock's ASGI app directly; the answer's status and body are kept for checks."""

    def __init__(self, app) -> None:
        self.app = app

    async def get(self, case: Case, query: str) -> tuple[int, bytes]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": case.path,
            "raw_path": case.path.encode(),
            "query_string": query.encode(),
            "headers": list(case.headers),
            "server": ("127.0.0.1", 4010),
            "client": ("127.0.0.1", 50000),
            "root_path": "",
        }
        messages: list[dict] = []

        async def receive() -> dict:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict) -> None:
            messages.append(message)

        await self.app(scope, receive, send)
        body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
        return messages[0]["status"], body


def _next_cursor(client: InProcessClient, case: Case) -> str:
    status, body = asyncio.run(client.get(case, case.query))
    first = json.loads(body)
    assert status == 200 and first["next"], (status, body[:200])
    return first["next"].split("page=", 1)[1]


def _deep_cursor(app, client: InProcessClient, case: Case) -> str:
    """A cursor for `case`'s page size and filters whose page is the last one of the collection."""
    from mock_server.cursors import CursorState

    codec = app.serving.codec
    state = codec.decode(_next_cursor(client, case))
    filters = dict(state.filters)
    total = len(app.serving.data.statements.view(filters["account_id"] or None, filters["currency"]))
    return codec.encode(CursorState(max(0, total - state.page_size), state.page_size, state.filters))


def child_cases(app, client: InProcessClient) -> list[Case]:
    history = app.serving.data.history
    mifumo, wepay = _encoded(h.mifumo_headers()), _encoded(h.wepay_headers())
    last = -(-len(history.view(None)) // 20)
    last_usage = -(-len(history.view("usage")) // 20)
    owner = max(
        {s["owner"]["id"] for s in app.serving.data.dataset.statements if s["owner"]},
        key=lambda account: len(app.serving.data.statements.view(account, "USD")),
    )
    cases = [
        Case("Mifumo page 1", h.MIFUMO, "page_size=20", mifumo),
        Case("Mifumo last page", h.MIFUMO, f"page_size=20&page={last}", mifumo),
        Case("Mifumo type=usage page 1", h.MIFUMO, "page_size=20&type=usage", mifumo),
        Case("Mifumo type=usage last page", h.MIFUMO, f"page_size=20&type=usage&page={last_usage}", mifumo),
        Case("WePay page 1", h.WEPAY, "page_size=10", wepay),
        Case("WePay account_id page 1", h.WEPAY, f"page_size=10&account_id={owner}", wepay),
    ]
    # A cursor costs its decoding whatever its depth: page 2's separates that cost from depth.
    cases.append(Case("WePay page 2 cursor", h.WEPAY, f"page={_next_cursor(client, cases[4])}", wepay))
    for page1, name in ((cases[4], "WePay last cursor"), (cases[5], "WePay account_id last cursor")):
        cases.append(Case(name, h.WEPAY, f"page={_deep_cursor(app, client, page1)}", wepay))
    return cases


def error_cases(app) -> list[Case]:
    """Requests the compiled path never answers itself: connexion decides them, as it always did."""
    mifumo, wepay = _encoded(h.mifumo_headers()), _encoded(h.wepay_headers())
    wrong_token = _encoded({**h.wepay_headers(), "App-Token": "not-the-token"})
    past_last = -(-len(app.serving.data.history.view(None)) // 20) + 1
    return [
        Case("Mifumo 401 no token", h.MIFUMO, "page_size=20", _encoded({}), 401),
        Case("Mifumo 400 type=refund", h.MIFUMO, "type=refund", mifumo, 400),
        Case("Mifumo 404 past the last page", h.MIFUMO, f"page_size=20&page={past_last}", mifumo, 404),
        Case("WePay 403 wrong token", h.WEPAY, "page_size=10", wrong_token, 403),
        Case("WePay 400 page_size=0", h.WEPAY, "page_size=0", wepay, 400),
        Case("WePay 400 forged cursor", h.WEPAY, "page=not-a-cursor", wepay, 400),
        Case("WePay 404 unknown id", h.WEPAY + "/stmt_none", "", wepay, 404),
    ]


def without_fastpath() -> None:
    """Connexion's path as it is without mock_server/connexion_fastpath.py: connexion's own operation class
    and parameter decorator (rebuilt per request, as connexion 3.3 does), its own request object in the
    validator (the query parsed again by the decorator), the handlers given the request's scope through
    connexion's public `context.scope` instead of the planned decorator."""
    import functools

    from connexion.context import scope
    from connexion.lifecycle import ConnexionRequest

    from mock_server import app as app_module
    from mock_server import handlers, validation

    app_module.use_prebuilt_operations = lambda _app: None
    validation.SharedQueryRequest = ConnexionRequest
    resolve = handlers.Handlers.resolve

    def resolve_with_scope(self, operation_id: str):
        handler = resolve(self, operation_id)

        @functools.wraps(handler)  # connexion reads the handler's own signature through __wrapped__
        async def with_scope(**kwargs):
            if "request_scope" not in kwargs:  # the compiled path passes it; connexion's own decorator does not
                kwargs["request_scope"] = scope._get_current_object()
            return await handler(**kwargs)

        return with_scope

    handlers.Handlers.resolve = resolve_with_scope


async def _serve(client: InProcessClient, case: Case, mode: str, count: int, serial: list[int]) -> None:
    for _ in range(count):
        query = case.query
        if mode == "distinct":
            serial[0] += 1
            query += f"{'&' if query else ''}bench_request={serial[0]}"
        status, body = await client.get(case, query)
        if status != case.status:
            raise SystemExit(f"{case.name} ({mode}): {status} {body[:300]!r}")


def child(records: int, statements: int) -> None:
    from fixtures import DatasetSize
    from mock_server import MockConfig, create_app

    if os.environ.get(FASTPATH_VARIABLE, "on") == "off":
        without_fastpath()
    compiled = os.environ.get(PATH_VARIABLE, "compiled") == "compiled"
    app = create_app(MockConfig(size=DatasetSize(records=records, statements=statements), compiled_path=compiled))
    client = InProcessClient(app)
    errors = os.environ.get(CASES_VARIABLE) == "errors"
    cases = error_cases(app) if errors else child_cases(app, client)
    print("READY " + json.dumps([c.name for c in cases]), flush=True)
    serial = [0]
    for line in sys.stdin:  # "<case index> <mode> <count>" per line; the parent counts in between
        index, mode, count = line.split()
        asyncio.run(_serve(client, cases[int(index)], mode, int(count), serial))
        print("DONE", flush=True)


# -- the parent: drive the child, read callgrind's counters ------------------------------------------------


class Callgrind:
    def __init__(self, records: int, statements: int, workdir: Path) -> None:
        self.out = workdir / f"callgrind.{records}"
        argv = [
            "valgrind", "--tool=callgrind", f"--callgrind-out-file={self.out}", "--dump-line=no",
            sys.executable, str(Path(__file__).resolve()), "--child",
            "--records", str(records), "--statements", str(statements),
        ]  # fmt: skip
        env = {**os.environ, "PYTHONHASHSEED": "0"}  # str hashes (dict layouts) the same on every run
        self.process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, stderr=subprocess.DEVNULL
        )
        self.dumps = 0

    def ready(self) -> list[str]:
        line = self._line()
        if not line.startswith("READY "):
            raise SystemExit(f"child did not start: {line!r}")
        return json.loads(line[6:])

    def _line(self) -> str:
        line = self.process.stdout.readline()  # type: ignore[union-attr]
        if not line:
            raise SystemExit(f"child exited ({self.process.wait()})")
        return line.strip()

    def _run(self, index: int, mode: str, count: int) -> None:
        self.process.stdin.write(f"{index} {mode} {count}\n")  # type: ignore[union-attr]
        self.process.stdin.flush()  # type: ignore[union-attr]
        if (line := self._line()) != "DONE":
            raise SystemExit(line)

    def _control(self, flag: str) -> None:
        subprocess.run(["callgrind_control", flag, str(self.process.pid)], check=True, capture_output=True, timeout=120)

    def per_request(self, index: int, mode: str, count: int) -> float:
        self._run(index, mode, WARM_UP_REQUESTS)
        self._control("--zero")
        self._run(index, mode, count)
        self._control("--dump")
        self.dumps += 1
        return _total(Path(f"{self.out}.{self.dumps}")) / count

    def close(self) -> None:
        self.process.stdin.close()  # type: ignore[union-attr]
        try:
            self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _total(dump: Path) -> int:
    for _ in range(100):  # the dump is written by the child after callgrind_control returns
        if dump.exists():
            match = re.search(r"^(?:summary|totals): (\d+)", dump.read_text(), re.MULTILINE)
            if match:
                return int(match[1])
        time.sleep(0.1)
    raise SystemExit(f"no callgrind dump at {dump}")


def measure(
    records: int, statements: int, args: argparse.Namespace, workdir: Path
) -> dict[tuple[str, str], list[float]]:
    started = time.monotonic()
    grind = Callgrind(records, statements, workdir)
    try:
        names = grind.ready()
        print(
            f"  {records:,} records / {statements:,} statements: started under callgrind in "
            f"{time.monotonic() - started:.0f} s",
            flush=True,
        )
        counts: dict[tuple[str, str], list[float]] = {}
        modes = ("distinct",) if args.errors else MODES  # an error answer is never replayed
        for round_ in range(args.rounds):
            for index, name in enumerate(names):
                for mode in modes:
                    value = grind.per_request(index, mode, args.requests)
                    counts.setdefault((name, mode), []).append(value)
                    print(f"  round {round_ + 1} {name:29} {mode:8} {value:13,.0f} instructions/request", flush=True)
    finally:
        grind.close()
    return counts


def _page1(name: str) -> str:
    return name.replace("last page", "page 1").replace("last cursor", "page 1").replace("page 2 cursor", "page 1")


def report(
    small: dict[tuple[str, str], list[float]], big: dict[tuple[str, str], list[float]] | None, args: argparse.Namespace
) -> None:
    def mean(values: Sequence[float]) -> float:
        return sum(values) / len(values)

    def spread(values: Sequence[float]) -> str:
        return f"{(max(values) - min(values)) / mean(values) * 100:.1f}%"

    relative = not args.errors  # an error case has no page 1 to compare with
    rows = []
    for (name, mode), values in small.items():
        row: list[object] = [name, mode, mean(values), spread(values)]
        if big is not None:
            big_values = big[(name, mode)]
            row += [mean(big_values), spread(big_values), h.ratio(mean(big_values), mean(values))]
        if relative:
            row.append(h.ratio(mean(values), mean(small[(_page1(name), mode)])))
        if relative and big is not None:
            row.append(h.ratio(mean(big[(name, mode)]), mean(big[(_page1(name), mode)])))
        rows.append(row)
    headers = ["case", "path", "small instr/req", "spread"]
    if big is not None:
        headers += ["big instr/req", "spread", "big/small"]
    if relative:
        headers.append("vs page 1 (small)")
    if relative and big is not None:
        headers.append("vs page 1 (big)")
    print(
        h.table(
            f"Instructions per request (callgrind, in process, mean of {args.rounds} rounds x {args.requests} "
            f"requests; spread = (max-min)/mean over rounds); small = 1,000 records / 1,000 statements, "
            f"big = {args.big_records:,} records / {args.big_statements:,} statements",
            headers,
            rows,
        )
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="instructions.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100, help="requests counted per case, path and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="30 requests, 1 round")
    parser.add_argument("--big-records", type=int, default=1_000_000)
    parser.add_argument("--big-statements", type=int, default=100_000)
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--path", choices=("compiled", "stock"), default="compiled", help="which path answers")
    parser.add_argument("--errors", action="store_true", help="count the error cases (connexion's) instead")
    parser.add_argument("--fastpath", choices=("on", "off"), default="on", help="connexion_fastpath in use")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--records", type=int, default=1000, help=argparse.SUPPRESS)
    parser.add_argument("--statements", type=int, default=1000, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.rounds = 30, 1
    if args.child:
        child(args.records, args.statements)
        return
    os.environ[PATH_VARIABLE] = args.path
    os.environ[FASTPATH_VARIABLE] = args.fastpath
    os.environ[CASES_VARIABLE] = "errors" if args.errors else "valid"
    if not (shutil.which("valgrind") and shutil.which("callgrind_control")):
        raise SystemExit("instructions.py: needs valgrind (apt-get install valgrind)")
    cases = "error cases" if args.errors else "valid requests"
    print(f"# Instructions per request — {cases}, {args.path} path, fast path {args.fastpath}; {h.revision()}")
    print(f"# {h.machine()}")
    with tempfile.TemporaryDirectory(prefix="billing-callgrind-") as workdir:
        small = measure(1000, 1000, args, Path(workdir))
        big = None if args.skip_big else measure(args.big_records, args.big_statements, args, Path(workdir))
    report(small, big, args)


if __name__ == "__main__":
    main()
