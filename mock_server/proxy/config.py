"""What a proxy instance is built from. The CLI fills it from flags and `BILLING_MOCK_*` variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from billing_contract import APIS
from mock_server.config import MockConfig

DEFAULT_UPSTREAM_TIMEOUT = 30.0
# An upstream answer larger than this is refused (502): the proxy holds each answer to validate it.
MAX_UPSTREAM_BODY = 64 * 1024 * 1024


class ProxyConfigError(ValueError):
    """A proxy configuration that cannot work (no upstream, a URL that is not http(s))."""


@dataclass(frozen=True)
class ProxyConfig:
    # API name (billing_contract.MIFUMO / WEPAY) -> the base URL its paths hang off.
    upstreams: Mapping[str, str]
    upstream_timeout: float = DEFAULT_UPSTREAM_TIMEOUT
    strict: bool = False
    record_path: Path | None = None
    report_path: Path | None = None
    junit_path: Path | None = None
    html_path: Path | None = None
    # The mock serving the APIs that have no upstream (and the tooling routes).
    mock: MockConfig = field(default_factory=MockConfig)
    max_body: int = MAX_UPSTREAM_BODY

    def __post_init__(self) -> None:
        if not self.upstreams:
            raise ProxyConfigError("give at least one upstream: --mifumo-upstream or --wepay-upstream")
        for api, url in self.upstreams.items():
            if api not in APIS:
                raise ProxyConfigError(f"unknown API {api!r}; known: {', '.join(APIS)}")
            if not url.startswith(("http://", "https://")):
                raise ProxyConfigError(f"--{api}-upstream must start with http:// or https://, got {url!r}")
        if self.upstream_timeout <= 0:
            raise ProxyConfigError("--upstream-timeout must be positive")
