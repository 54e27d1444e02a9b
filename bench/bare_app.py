"""The ceiling: a bare Starlette app on uvicorn (uvloop + httptools, no access log) answering each
path with a fixed body, no auth, no validation. `--bodies` is a JSON object {path: body text}; the
throughput bench fills it with the mock's own page-1 bodies so that bytes on the wire match."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def build(bodies: dict[str, str]) -> Starlette:
    def endpoint(body: bytes):
        async def handle(_: Request) -> Response:
            return Response(body, media_type="application/json")

        return handle

    return Starlette(routes=[Route(path, endpoint(text.encode())) for path, text in bodies.items()])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bodies", type=Path, required=True)
    args = parser.parse_args()
    app = build(json.loads(args.bodies.read_text()))
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        lifespan="off",
    )


if __name__ == "__main__":
    main()
