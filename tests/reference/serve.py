"""Serve the DRF reference on 127.0.0.1 in this process, and say when it is ready.

    python -m tests.reference.serve --port 8123 --time-zone Africa/Dar_es_Salaam \
        --type-filter serializer --seed 7 --records 250 --log /tmp/requests.jsonl

Django's settings are process-global, so one configuration is one process. Once the socket listens it
prints one JSON line (and writes it to `--ready-file` when given): `{"url", "token", "expired_token", ...}`.
Django's WSGI application runs under uvicorn's WSGI interface, as a WSGI deployment runs it under gunicorn.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import uvicorn

from fixtures import DEFAULT_SEED
from tests.reference.choices import TYPE_FILTERS, VARIANTS


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The configuration: where to listen, the deployment's settings, the data, and where to report."""
    parser = argparse.ArgumentParser(prog="python -m tests.reference.serve", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--time-zone", default="UTC", help="Django's TIME_ZONE (Mifumo: Africa/Dar_es_Salaam)")
    parser.add_argument("--type-filter", choices=TYPE_FILTERS, default="serializer")
    parser.add_argument("--variant", choices=VARIANTS, default=None, help="a broken variant (default: none)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--records", type=int, default=250)
    parser.add_argument("--log", type=Path, default=None, help="append one JSON line per request served here")
    parser.add_argument("--ready-file", type=Path, default=None, help="also write the ready line here")
    return parser.parse_args(argv)


def configure(args: argparse.Namespace, database: Path) -> None:
    """Set the deployment's environment and start Django with it (before any model or DRF import)."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.reference.settings"
    os.environ["REFERENCE_TIME_ZONE"] = args.time_zone
    os.environ["REFERENCE_TYPE_FILTER"] = args.type_filter
    os.environ["REFERENCE_VARIANT"] = args.variant or ""
    os.environ["REFERENCE_REQUEST_LOG"] = str(args.log) if args.log else ""
    os.environ["REFERENCE_DATABASE"] = str(database)
    import django

    django.setup()


class _ReadyServer(uvicorn.Server):
    """uvicorn's server, calling back once its sockets listen (uvicorn itself only logs it)."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None]) -> None:
        super().__init__(config)
        self.on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.should_exit:
            self.on_ready()


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    """SIGTERM as a normal exit: `finally` and `with` blocks run (see main)."""
    sys.exit(0)


def main(argv: list[str] | None = None) -> None:
    """Create and fill the database, issue the tokens, serve until SIGTERM or SIGINT."""
    args = parse_args(argv)
    # uvicorn shuts down on SIGTERM and then re-raises it with the previous handler back in place: this one
    # turns it into SystemExit, so the temporary database below is removed instead of left behind.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    with tempfile.TemporaryDirectory(prefix="drf-reference-") as scratch:
        configure(args, Path(scratch) / "db.sqlite3")
        from django.core.wsgi import get_wsgi_application

        from tests.reference import seed

        seed.create_tables()
        count = seed.load_records(args.seed, args.records)
        token, expired_token = seed.issue_tokens()
        ready = {
            "url": f"http://{args.host}:{args.port}",
            "token": token,
            "expired_token": expired_token,
            "records": count,
            "time_zone": args.time_zone,
            "type_filter": args.type_filter,
            "variant": args.variant,
            "pid": os.getpid(),
        }

        def announce() -> None:
            line = json.dumps(ready)
            if args.ready_file:
                partial = args.ready_file.with_suffix(".partial")
                partial.write_text(line + "\n", encoding="utf-8")
                partial.replace(args.ready_file)  # a reader never sees half a line
            print(line, flush=True)

        config = uvicorn.Config(
            get_wsgi_application(),
            host=args.host,
            port=args.port,
            interface="wsgi",
            lifespan="off",
            log_level="warning",
            access_log=False,
        )
        _ReadyServer(config, announce).run()


if __name__ == "__main__":
    main()
