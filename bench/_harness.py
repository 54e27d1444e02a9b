"""Shared pieces of the benchmark: start and kill servers, generate load, print tables.

Every server listens on 127.0.0.1 only, runs in its own process group and is killed (SIGTERM, then
SIGKILL) when its context exits, whatever happened. Load runs are bounded in time and in requests.
On a 2-core machine the server is pinned to CPU 0 and the load generator to CPU 1 (`taskset`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
SPEC = ROOT / "specs" / "openapi.yaml"
HOST = "127.0.0.1"
PRISM_PACKAGE = "@stoplight/prism-cli@5.14.2"  # checked on Node 20 against specs/openapi.yaml
SERVER_CPU = "0"
LOAD_CPU = "1"
ALL_CPUS = "0,1"
NCPU = os.cpu_count() or 1


def mifumo_headers() -> dict[str, str]:
    from mock_server.security import DEFAULT_BEARER_TOKEN

    return {"Authorization": f"Bearer {DEFAULT_BEARER_TOKEN}"}


def wepay_headers() -> dict[str, str]:
    from mock_server.security import DEFAULT_APP_ID, DEFAULT_APP_TOKEN

    return {"App-Id": DEFAULT_APP_ID, "App-Token": DEFAULT_APP_TOKEN, "Api-Version": "3.0"}


def suite_credentials() -> dict[str, str]:
    """The mock's default credentials as the suite's BILLING_* variables."""
    from mock_server.security import DEFAULT_APP_ID, DEFAULT_APP_TOKEN, DEFAULT_BEARER_TOKEN

    return {
        "BILLING_BEARER_TOKEN": DEFAULT_BEARER_TOKEN,
        "BILLING_APP_ID": DEFAULT_APP_ID,
        "BILLING_APP_TOKEN": DEFAULT_APP_TOKEN,
    }


MIFUMO = "/api/billing/history/"
WEPAY = "/billing_statements"


# -- options -----------------------------------------------------------------------------------


def add_common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="short runs (~2.5 s each), 2 rounds")
    parser.add_argument("--duration", type=float, default=None, help="seconds per load run (default 10)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 3)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections (default 16)")
    parser.add_argument("--loader", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--startup-timeout", type=float, default=120.0)
    parser.add_argument(
        "--warmup",
        type=float,
        default=None,
        help="untimed load per server and URL first "
        "(default 3 s, --quick 1 s): Prism's JIT and Python's caches warm up",
    )


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse and resolve; unknown options are other parts' (`run.py all --skip-big`), ignored with a note."""
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        print(f"note: {parser.prog} ignores {' '.join(unknown)}", file=sys.stderr)
    return resolve_options(args)


def resolve_options(args: argparse.Namespace) -> argparse.Namespace:
    if args.duration is None:
        args.duration = 2.5 if args.quick else 10.0
    if args.rounds is None:
        args.rounds = 2 if args.quick else 3
    if args.warmup is None:
        args.warmup = 1.0 if args.quick else 3.0
    if args.loader == "auto":
        args.loader = "wrk" if shutil.which("wrk") else "python"
        if args.loader == "python":
            print(
                "note: wrk not found (install: apt-get install -y wrk); using the Python load generator",
                file=sys.stderr,
            )
    return args


def pin(cpus: str | None) -> list[str]:
    """A `taskset` prefix, or nothing when pinning is impossible or pointless."""
    if cpus is None or NCPU < 2 or not shutil.which("taskset"):
        return []
    return ["taskset", "-c", cpus]


# -- processes ---------------------------------------------------------------------------------


def free_port() -> int:
    from mock_server.testing import free_port as free

    return free(HOST)


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(ppid, []).append(int(entry))
    return tree


_WRAPPERS = re.compile(r"^(npm exec|sh -c|timeout )")


def rss_mib(pid: int, key: str = "VmRSS:") -> float:
    """Resident memory of a process tree in MiB, launch wrappers (npm exec, sh -c) excluded.
    `key="VmHWM:"` sums each process's peak instead."""
    tree, total, todo = _children(), 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(tree.get(current, []))
        try:
            cmdline = Path(f"/proc/{current}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            if _WRAPPERS.match(cmdline):
                continue
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith(key):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    startup_s: float
    log: Path
    rss: list[float] = field(default_factory=list)

    def sample_rss(self) -> float:
        value = rss_mib(self.process.pid)
        self.rss.append(value)
        return value


def _kill(process: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@contextlib.contextmanager
def server(
    name: str,
    argv: Sequence[str],
    probe_path: str,
    probe_headers: dict[str, str],
    port: int,
    timeout: float = 120.0,
    cpus: str | None = SERVER_CPU,
    env: dict[str, str] | None = None,
) -> Iterator[Server]:
    """Start `argv` in its own process group; ready when `probe_path` answers 200. Always killed."""
    log = Path(f"/tmp/bench-{name.replace(' ', '_')}-{port}.log")
    url = f"http://{HOST}:{port}"
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*pin(cpus), *argv],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    try:
        with httpx.Client(timeout=2.0) as client:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}; see {log}")
                if time.monotonic() - started > timeout:
                    raise TimeoutError(f"{name} not ready after {timeout:.0f} s; see {log}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(url + probe_path, headers=probe_headers).status_code == 200:
                        break
                time.sleep(0.05)
        yield Server(name, url, process, time.monotonic() - started, log)
    finally:
        _kill(process)


def mock_argv(port: int, *extra: str) -> list[str]:
    return [str(Path(sys.executable).with_name("billing-mock")), "--port", str(port), "--log-level", "warning", *extra]


def prism_argv(port: int) -> list[str]:
    return ["npx", "--yes", PRISM_PACKAGE, "mock", "-p", str(port), "-h", HOST, "-v", "warn", str(SPEC)]


def bare_argv(port: int, bodies: Path) -> list[str]:
    return [sys.executable, str(BENCH / "bare_app.py"), "--port", str(port), "--bodies", str(bodies)]


# -- load --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx answers plus socket errors


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _wrk_ms(text: str, label: str) -> float:
    match = re.search(rf"^\s*{re.escape(label)}\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
    return float(match.group(1)) * _UNITS[match.group(2)] if match else float("nan")


# Each request gets its own ignored query parameter: no two requests are identical, so none is replayed.
DISTINCT_LUA = """
counter = 0
request = function()
  counter = counter + 1
  local sep = string.find(wrk.path, "?", 1, true) and "&" or "?"
  return wrk.format(nil, wrk.path .. sep .. "bench_request=" .. counter)
end
"""


def run_wrk(url: str, headers: dict[str, str], duration: float, connections: int, distinct: bool = False) -> Load:
    argv = [
        *pin(LOAD_CPU),
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--latency",
        "--timeout",
        "5s",
    ]
    if distinct:
        script = Path(tempfile.gettempdir()) / "billing-bench-distinct.lua"
        script.write_text(DISTINCT_LUA)
        argv += ["-s", str(script)]
    for key, value in headers.items():
        argv += ["-H", f"{key}: {value}"]
    out = subprocess.run([*argv, url], capture_output=True, text=True, timeout=duration + 30, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return Load(rps, _wrk_ms(out, "50%"), _wrk_ms(out, "99%"), requests, errors)


def run_python(url: str, headers: dict[str, str], duration: float, connections: int) -> Load:
    argv = [
        *pin(LOAD_CPU),
        sys.executable,
        str(BENCH / "pyload.py"),
        url,
        "--duration",
        str(duration),
        "--connections",
        str(connections),
        "--headers",
        json.dumps(headers),
    ]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 30, check=True).stdout
    return Load(**json.loads(out))


def load(
    loader: str, url: str, headers: dict[str, str], duration: float, connections: int, distinct: bool = False
) -> Load:
    if loader == "wrk":
        return run_wrk(url, headers, duration, connections, distinct)
    if distinct:
        return Load(float("nan"), float("nan"), float("nan"), 0, 0)  # the Python generator repeats its URL
    return run_python(url, headers, duration, connections)


def check(url: str, headers: dict[str, str]) -> bytes:
    """One request before a load run: a wrong URL must fail loudly, not measure 404s."""
    response = httpx.get(url, headers=headers, timeout=10)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}: {response.text[:200]}")
    return response.content


def median(values: Sequence[float]) -> float:
    clean = [v for v in values if v == v]
    return statistics.median(clean) if clean else float("nan")


def median_load(runs: Sequence[Load]) -> Load:
    return Load(
        median([r.rps for r in runs]),
        median([r.p50_ms for r in runs]),
        median([r.p99_ms for r in runs]),
        sum(r.requests for r in runs),
        sum(r.errors for r in runs),
    )


# -- output ------------------------------------------------------------------------------------


def fmt(value: object, digits: int = 1) -> str:
    if isinstance(value, float):
        return "n/a" if value != value else f"{value:,.{digits}f}"
    return "n/a" if value is None else str(value)


def ratio(value: float, base: float, percent: bool = False) -> str:
    if not (value == value and base == base and base):
        return "n/a"
    return f"{value / base:.0%}" if percent else f"{value / base:.2f}x"


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [list(headers), *[[fmt(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        f"\n## {title}\n",
        "| " + " | ".join(h.ljust(w) for h, w in zip(cells[0], widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    for row in cells[1:]:
        lines.append(
            "| "
            + " | ".join(
                c.rjust(w) if c[:1].isdigit() or c == "n/a" else c.ljust(w) for c, w in zip(row, widths, strict=True)
            )
            + " |"
        )
    return "\n".join(lines)


def revision() -> str:
    """The commit measured, and whether the mock's files differ from it (the tree is shared)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "mock_server", "fixtures", "specs"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown revision"
    return f"commit {head}" + (" + uncommitted mock changes" if dirty else "")


def machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{NCPU} CPUs ({model}), Python {sys.version.split()[0]}"


def describe(args: argparse.Namespace) -> str:
    pinning = f"server on CPU {SERVER_CPU}, load on CPU {LOAD_CPU}" if pin(SERVER_CPU) else "no CPU pinning"
    return (
        f"{machine()}; {revision()}; loader {args.loader} (1 thread, {args.connections} connections, "
        f"{args.warmup:g} s warm-up, {args.duration:g} s per run, {args.rounds} interleaved rounds, medians); "
        f"{pinning}"
    )


def warm_up(args: argparse.Namespace, url: str, headers: dict[str, str]) -> None:
    if args.warmup > 0:
        load(args.loader, url, headers, args.warmup, args.connections)


Case = tuple[str, str, Callable[[], dict[str, str]]]  # label, path, headers


@dataclass(frozen=True)
class Target:
    """One column of a comparison: a server, loaded with identical requests or every request distinct."""

    name: str
    server: Server
    distinct: bool = False


def interleaved(
    args: argparse.Namespace, targets: Sequence[Target], cases: Sequence[Case]
) -> dict[tuple[str, str], Load]:
    """Warm every server up on every case, then `args.rounds` rounds of runs interleaved case by case and
    target by target (so a slow spell of the machine hits them all alike); the median run of each."""
    for server in {id(t.server): t.server for t in targets}.values():
        for _, path, headers in cases:
            warm_up(args, server.url + path, headers())
    width = max(len(t.name) for t in targets)
    runs: dict[tuple[str, str], list[Load]] = {}
    for round_ in range(args.rounds):
        for label, path, headers in cases:
            for target in targets:
                url = target.server.url + path
                check(url, headers())
                result = load(args.loader, url, headers(), args.duration, args.connections, distinct=target.distinct)
                runs.setdefault((label, target.name), []).append(result)
                target.server.sample_rss()
                print(
                    f"  round {round_ + 1} {label:13} {target.name:{width}} {result.rps:9,.0f} req/s "
                    f"p50 {result.p50_ms:6.2f} ms p99 {result.p99_ms:7.2f} ms",
                    flush=True,
                )
    return {key: median_load(value) for key, value in runs.items()}
