"""The image built once per session from this checkout (on a base image built here and kept between runs),
and containers run from it on the host's network, each on its own free port, removed after."""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import httpx
import pytest

from mock_server.app import TOOLING_PREFIX
from mock_server.testing import free_port
from tests.container.podman import (
    BASE_IMAGE,
    IMAGE,
    Podman,
    build_image,
    build_stage_tag,
    container_name,
    ensure_base_image,
    missing_tools,
    run_args,
)

HEALTH_PATH = f"{TOOLING_PREFIX}/health"


@pytest.fixture(scope="session")
def podman() -> Podman:
    reason = missing_tools()
    if reason is not None:
        pytest.skip(reason)
    return Podman.here()


@dataclass(frozen=True)
class Image:
    name: str
    id: str
    base: str
    build_stage: str
    build_seconds: float


@pytest.fixture(scope="session")
def image(podman: Podman) -> Image:
    if podman.image_id(BASE_IMAGE) is None and shutil.which("debootstrap") is None:
        pytest.skip(f"no {BASE_IMAGE} image and no debootstrap to build it (Debian package debootstrap)")
    base = ensure_base_image(podman)
    image_id, seconds = build_image(podman, base)
    return Image(IMAGE, image_id, base, build_stage_tag(IMAGE), seconds)


@dataclass(frozen=True)
class Container:
    podman: Podman
    name: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def logs(self) -> str:
        done = self.podman.run("logs", self.name, check=False)
        return done.stdout + done.stderr

    def running(self) -> bool:
        return self.podman.inspect(self.name, "{{.State.Running}}") == "true"

    def wait_serving(self, timeout: float = 60) -> httpx.Response:
        """The first 200 from the health path, requested from the host."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.running(), f"container {self.name} exited:\n{self.logs()[-3000:]}"
            with contextlib.suppress(httpx.TransportError):
                response = httpx.get(f"{self.url}{HEALTH_PATH}", timeout=2)
                if response.status_code == 200:
                    return response
            assert time.monotonic() < deadline, f"no answer on {self.url}{HEALTH_PATH}:\n{self.logs()[-3000:]}"
            time.sleep(0.2)


@contextlib.contextmanager
def started(
    podman: Podman,
    image: Image,
    role: str,
    env: dict[str, str] | None = None,
    extra: Sequence[str] = (),
    command: Sequence[str] = (),
) -> Iterator[Container]:
    """A detached container of the image; the mock's port is a free one (BILLING_MOCK_PORT) unless given."""
    env = dict(env or {})
    env.setdefault("BILLING_MOCK_PORT", str(free_port()))
    name = container_name(role)
    try:
        podman.run(*run_args(name, image.name, env, extra, command))
        yield Container(podman, name, int(env["BILLING_MOCK_PORT"]))
    finally:
        podman.remove(name)
