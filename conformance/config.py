"""What a suite run is given: targets, credentials and knobs. The CLI and the pytest plugin fill it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mock_server.security import DEFAULT_APP_ID, DEFAULT_APP_TOKEN, DEFAULT_BEARER_TOKEN
from mock_server.spec import DEFAULT_SPEC_PATH

MIFUMO = "mifumo"
WEPAY = "wepay"
APIS = (MIFUMO, WEPAY)
# The contract's tag for each API; the spec groups operations by it.
TAGS = {MIFUMO: "Mifumo", WEPAY: "WePay"}

DEFAULT_SEED = 20240611
DEFAULT_MAX_EXAMPLES = 25


class UsageError(Exception):
    """The run was asked for something impossible (no target, bad value); the CLI exits 2."""


@dataclass(frozen=True)
class SuiteConfig:
    mifumo_url: str | None = None
    wepay_url: str | None = None
    bearer_token: str = DEFAULT_BEARER_TOKEN
    app_id: str = DEFAULT_APP_ID
    app_token: str = DEFAULT_APP_TOKEN
    api_version: str = "3.0"
    seed: int = DEFAULT_SEED
    max_examples: int = DEFAULT_MAX_EXAMPLES
    exclude_checks: frozenset[str] = field(default_factory=frozenset)
    timeout: float = 10.0
    deadline: float | None = None
    max_rate: float | None = None
    # Bounds every pagination walk, so a looping or endless server cannot hold the run.
    max_pages: int = 60
    schema_checks: bool = True
    semantic_checks: bool = True
    spec_path: Path = DEFAULT_SPEC_PATH

    def __post_init__(self) -> None:
        if not (self.mifumo_url or self.wepay_url):
            raise UsageError("give at least one target: --mifumo-url or --wepay-url")
        for url in (self.mifumo_url, self.wepay_url):
            if url and not url.startswith(("http://", "https://")):
                raise UsageError(f"target URL must start with http:// or https://, got {url!r}")
        if self.max_examples < 1:
            raise UsageError("--max-examples must be at least 1")
        if self.timeout <= 0 or (self.deadline is not None and self.deadline <= 0):
            raise UsageError("--timeout and --deadline must be positive")
        if self.max_rate is not None and self.max_rate <= 0:
            raise UsageError("--max-rate must be positive")

    def url_for(self, api: str) -> str | None:
        url = self.mifumo_url if api == MIFUMO else self.wepay_url
        return url.rstrip("/") if url else None

    @property
    def apis(self) -> tuple[str, ...]:
        return tuple(api for api in APIS if self.url_for(api))

    def secrets(self) -> dict[str, str]:
        """Each credential and the environment variable the CLI reads it from (to keep it out of reports)."""
        return {
            self.bearer_token: "BILLING_BEARER_TOKEN",
            self.app_token: "BILLING_APP_TOKEN",
        }

    def auth_headers(self, api: str) -> dict[str, str]:
        if api == MIFUMO:
            return {"Authorization": f"Bearer {self.bearer_token}"}
        return {"App-Id": self.app_id, "App-Token": self.app_token, "Api-Version": self.api_version}
