"""A small, bounded HTTP/1.1 keep-alive load generator on raw asyncio sockets: the fallback when wrk
is absent. Stops at `--duration` seconds or `--max-requests`, whichever comes first; prints JSON
{rps, p50_ms, p99_ms, requests, errors}. Slower than wrk: it saturates earlier, so compare servers
only under the same loader.

    python bench/pyload.py http://127.0.0.1:4010/billing_statements --duration 3 --connections 16 \
        --headers '{"App-Id": "mock-app-id", "App-Token": "mock-app-token", "Api-Version": "3.0"}'
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from urllib.parse import urlsplit

try:
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None  # type: ignore[assignment]


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length, chunked = 0, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


async def _worker(
    host: str, port: int, request: bytes, deadline: float, budget: list[int], latencies: list[float], errors: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline and budget[0] > 0:
            budget[0] -= 1
            started = time.perf_counter()
            writer.write(request)
            try:
                status = await asyncio.wait_for(_read_response(reader), timeout=5)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                errors[0] += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            latencies.append(time.perf_counter() - started)
            if not 200 <= status < 300:
                errors[0] += 1
    finally:
        writer.close()


async def run(url: str, headers: dict[str, str], duration: float, connections: int, max_requests: int) -> dict:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"GET {target} HTTP/1.1", f"Host: {parts.netloc}", *(f"{k}: {v}" for k, v in headers.items())]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    latencies: list[float] = []
    errors, budget = [0], [max_requests]
    started = time.perf_counter()
    deadline = started + duration
    await asyncio.gather(
        *(_worker(host, port, request, deadline, budget, latencies, errors) for _ in range(connections))
    )
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")

    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "requests": len(latencies),
        "errors": errors[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--max-requests", type=int, default=5_000_000)
    parser.add_argument("--headers", default="{}", help="JSON object")
    args = parser.parse_args()
    coroutine = run(args.url, json.loads(args.headers), args.duration, args.connections, args.max_requests)
    result = uvloop.run(coroutine) if uvloop is not None else asyncio.run(coroutine)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
