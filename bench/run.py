"""Run the whole benchmark, or one part, and print its tables.

    python bench/run.py [all|throughput|workers|proxy|startup|instructions|suite] [--quick] [--duration S] [--rounds N]
                        [--connections C] [--loader auto|wrk|python]

Options after the part name go to that part (`all` passes the common ones to each load-driven part, and
only `--quick` to `instructions`, which counts instructions under valgrind instead of timing load, and to
`suite`, which times whole runs of the conformance suite). See bench/README.md.
"""

from __future__ import annotations

import sys

import instructions
import proxy
import startup
import suite
import throughput
import workers

PARTS = {
    "throughput": throughput.main,
    "workers": workers.main,
    "proxy": proxy.main,
    "startup": startup.main,
    "instructions": instructions.main,
    "suite": suite.main,
}


def main() -> None:
    argv = sys.argv[1:]
    part = argv.pop(0) if argv and not argv[0].startswith("-") else "all"
    if "-h" in argv or "--help" in argv or (part not in PARTS and part != "all"):
        print(__doc__)
        sys.exit(0 if part in PARTS or part == "all" else 2)
    for name, run in PARTS.items():
        if part == name:
            run(argv)
        elif part == "all":
            run([a for a in argv if a == "--quick"] if name in ("instructions", "suite") else argv)
        else:
            continue
        print(flush=True)


if __name__ == "__main__":
    main()
