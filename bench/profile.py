"""Profile the mock under load: py-spy samples the server process (1 worker, default dataset) while
wrk (or the Python loader) drives one list endpoint; prints the top functions by own samples and by
inclusive samples. Needs py-spy (`pip install py-spy`) and ptrace rights on the server process.

    python bench/profile.py [mifumo|wepay] [--duration S] [--top N]
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import _harness as h

_FRAME = re.compile(r"^(?P<name>.*) \((?P<path>[^()]*?)(?::\d+)?\)$")


def _frame(text: str) -> tuple[str, str]:
    """(`function (file)`, package) of one py-spy frame `function (path:line)`."""
    match = _FRAME.match(text)
    if not match:
        return text, "?"
    path = match["path"]
    if "site-packages/" in path:
        package = path.split("site-packages/", 1)[1].split("/", 1)[0]
    elif re.search(r"/lib/python3\.\d+/", path):
        package = "stdlib " + re.split(r"/lib/python3\.\d+/", path, maxsplit=1)[1].split("/", 1)[0]
    elif path.startswith(str(h.ROOT)):
        package = path[len(str(h.ROOT)) + 1 :].split("/", 1)[0]
    else:
        package = path
    return f"{match['name']} ({path.rsplit('/', 1)[-1]})", package


def summarize(collapsed: Path, top: int) -> str:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    packages: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = [_frame(f) for f in stack.split(";")]
        total += count
        own[frames[-1][0]] += count
        packages[frames[-1][1]] += count
        for name in {name for name, _ in frames}:
            inclusive[name] += count
    if not total:
        return "no samples"

    def rows(counter: collections.Counter[str], limit: int, skip_above: float = 101.0) -> list[list[object]]:
        pairs = [(name, n / total * 100) for name, n in counter.most_common()]
        return [[name, pct] for name, pct in pairs if pct < skip_above][:limit]

    return "\n".join(
        (
            h.table(f"Own time by package, {total:,} samples", ["package", "% samples"], rows(packages, top)),
            h.table(f"Own time by function, top {top}", ["function (file)", "% samples"], rows(own, top)),
            h.table(
                f"Inclusive time by function, top {top} (frames under 75% of samples)",
                ["function (file)", "% samples"],
                rows(inclusive, top, 75.0),
            ),
        )
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="profile.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("endpoint", nargs="?", choices=("mifumo", "wepay"), default="wepay")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--loader", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    args.loader = "wrk" if args.loader == "auto" and shutil.which("wrk") else args.loader
    args.loader = "python" if args.loader == "auto" else args.loader
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        sys.exit("py-spy not found: pip install py-spy")
    path, headers = (h.MIFUMO, h.mifumo_headers()) if args.endpoint == "mifumo" else (h.WEPAY, h.wepay_headers())
    port = h.free_port()
    with tempfile.TemporaryDirectory() as tmp, h.server("mock", h.mock_argv(port), "/__mock/health", {}, port) as srv:
        h.check(srv.url + path, headers)
        out = Path(tmp) / "profile.txt"
        # the server's Python process is the leaf under taskset (taskset execs, so it is srv.process itself)
        result: list[h.Load] = []
        loader = threading.Thread(
            target=lambda: result.append(
                h.load(args.loader, srv.url + path, headers, args.duration + 2, args.connections)
            )
        )
        loader.start()
        subprocess.run(
            [
                py_spy,
                "record",
                "--pid",
                str(srv.process.pid),
                "--duration",
                str(int(args.duration)),
                "--rate",
                "200",
                "--format",
                "raw",
                "--full-filenames",
                "--nonblocking",
                "--output",
                str(out),
            ],
            check=True,
            capture_output=True,
            timeout=args.duration + 60,
        )
        loader.join()
        print(
            f"# Profile of GET {path} under load: {result[0].rps:,.0f} req/s while sampled "
            f"(py-spy at 200 Hz, {h.machine()})"
        )
        print(summarize(out, args.top))


if __name__ == "__main__":
    main()
