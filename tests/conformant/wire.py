"""A front that re-cases response header names on the wire (`Content-Type`, `X-Correlation-Id`, as Django
and most servers send them). uvicorn lower-cases every header name it writes, so a variant about header
case cannot be made inside the ASGI app: this small threaded HTTP/1.1 server relays each request to the
app's URL and writes the answer back with the names re-cased."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "date", "server"}


def title_case(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


def _handler(upstream: str, client: httpx.Client) -> type[BaseHTTPRequestHandler]:
    class Relay(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _relay(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            # The Host header goes along: the app builds its links from it, as behind any reverse proxy.
            headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP]
            answer = client.request(self.command, upstream + self.path, headers=headers, content=body)
            self.send_response(answer.status_code)
            for name, value in answer.headers.multi_items():
                if name.lower() not in HOP_BY_HOP:
                    self.send_header(title_case(name), value)
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer.content)

        def __getattr__(self, name: str) -> object:
            # Every method, whatever its name (Schemathesis also sends QUERY, TRACE...), is relayed.
            if name.startswith("do_"):
                return self._relay
            raise AttributeError(name)

    return Relay


@contextlib.contextmanager
def title_cased(upstream: str) -> Iterator[str]:
    """Serve a relay to `upstream` on a free port; yields its base URL."""
    with httpx.Client(timeout=30, follow_redirects=False) as client:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(upstream.rstrip("/"), client))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
