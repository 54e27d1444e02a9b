"""Run the mock on a free port for a test, over a real socket:

with running_mock(MockConfig(seed=7)) as mock:
    httpx.get(f"{mock.url}/api/billing/history/", headers=mock.mifumo_headers)
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import uvicorn

from fixtures import Dataset
from mock_server.app import MockApp, create_app
from mock_server.config import MockConfig
from mock_server.security import Credentials

# A server bound to every interface is reached through loopback.
_LOCAL = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}


@dataclass(frozen=True)
class RunningMock:
    url: str
    credentials: Credentials
    app: MockApp

    @property
    def mifumo_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credentials.bearer_token}"}

    @property
    def wepay_headers(self) -> dict[str, str]:
        facts = self.app.state.spec.facts
        app_id, app_token = facts.credential_headers
        return {
            app_id: self.credentials.app_id,
            app_token: self.credentials.app_token,
            facts.version_header: facts.default_api_version,
        }


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve_in_thread(
    app: object, host: str = "127.0.0.1", port: int | None = None, startup_timeout: float = 10.0, **options: Any
) -> Iterator[str]:
    """Serve any ASGI app with uvicorn in a background thread; yields its base URL. `options` go to
    uvicorn's Config (the proxy, say, is served without uvicorn's own Date and Server headers)."""
    port = port or free_port(host)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off", **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"server on {host}:{port} did not start")
        time.sleep(0.01)
    try:
        yield f"http://{_LOCAL.get(host, host)}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextlib.contextmanager
def running_mock(
    config: MockConfig | None = None, dataset: Dataset | None = None, host: str | None = None
) -> Iterator[RunningMock]:
    """The mock listening on `host` (default: the config's, loopback); its URL always names loopback."""
    config = config or MockConfig()
    if host is not None and host != config.host:
        config = replace(config, host=host)  # the tooling API guards itself by where it listens
    app = create_app(config, dataset)
    with serve_in_thread(app, config.host) as url:
        yield RunningMock(url, app.state.credentials, app)
