"""What a mock instance is built from. The CLI fills it from flags and environment variables; tests
build it directly."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from billing_contract.spec import DEFAULT_SPEC_PATH
from fixtures import DEFAULT_SEED, DatasetSize
from mock_server.controls import ControlSettings
from mock_server.security import Credentials

# Browser clients on this machine, any port.
DEFAULT_CORS_ORIGINS = ("http://localhost", "http://127.0.0.1", "https://localhost", "https://127.0.0.1")


@dataclass(frozen=True)
class MockConfig:
    seed: int = DEFAULT_SEED
    size: DatasetSize = field(default_factory=DatasetSize)
    fixtures_path: Path | None = None
    credentials: Credentials = field(default_factory=Credentials)
    spec_path: Path = DEFAULT_SPEC_PATH
    controls: ControlSettings = field(default_factory=ControlSettings)
    # Browser origins allowed by CORS: a list of origins, or None for no CORS at all.
    cors_origins: tuple[str, ...] | None = DEFAULT_CORS_ORIGINS
    # The tooling API's write and log routes: open on loopback without a token, refused beyond it.
    admin_token: str | None = None
    # Where the mock listens, so the tooling API knows whether it is reachable beyond this machine.
    host: str = "127.0.0.1"
    # Answer the requests connexion would hand to a handler straight from per-operation plans
    # (mock_server.compiled); off, every request takes connexion's whole path (the differential tests'
    # reference, and the benchmark's baseline).
    compiled_path: bool = True
