"""What a mock instance is built from. The CLI fills it from flags and environment variables; tests
build it directly."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fixtures import DEFAULT_SEED, DatasetSize
from mock_server.security import Credentials
from mock_server.spec import DEFAULT_SPEC_PATH


@dataclass(frozen=True)
class MockConfig:
    seed: int = DEFAULT_SEED
    size: DatasetSize = field(default_factory=DatasetSize)
    fixtures_path: Path | None = None
    credentials: Credentials = field(default_factory=Credentials)
    spec_path: Path = DEFAULT_SPEC_PATH
