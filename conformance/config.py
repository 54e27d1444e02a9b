"""What a suite run is given: targets, credentials and knobs. The CLI and the pytest plugin fill it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from billing_contract import APIS, SPEC_PATH, load_spec
from billing_contract.profiles import PROFILES
from conformance.errors import UsageError
from conformance.options import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_EXAMPLES,
    DEFAULT_SEED,
    DEFAULT_TIMEOUT,
    MAX_CONCURRENCY,
    OPTIONS,
    Option,
)

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_MAX_EXAMPLES",
    "DEFAULT_SEED",
    "DEFAULT_TIMEOUT",
    "SuiteConfig",
    "UsageError",
    "config_from_options",
]


@dataclass(frozen=True)
class SuiteConfig:
    mifumo_url: str | None = None
    wepay_url: str | None = None
    # No defaults: the suite checks real backends, with the credentials they accept.
    bearer_token: str | None = None
    app_id: str | None = None
    app_token: str | None = None
    api_version: str | None = None  # None: the first version the spec supports
    seed: int = DEFAULT_SEED
    max_examples: int = DEFAULT_MAX_EXAMPLES
    exclude_checks: frozenset[str] = field(default_factory=frozenset)
    timeout: float = DEFAULT_TIMEOUT
    deadline: float | None = None
    max_rate: float | None = None
    # Requests in flight at once per API (Schemathesis' cases and the semantic checks share them); 1 runs
    # everything one request after another, as the suite always did.
    concurrency: int = DEFAULT_CONCURRENCY
    # TLS towards the targets (conformance.tls): a CA to trust (else SSL_CERT_FILE, else certifi's),
    # no verification at all, a client certificate and its key for mutual TLS.
    ca_cert: str | None = None
    insecure: bool = False
    client_cert: str | None = None
    client_key: str | None = None
    # Where the CLI writes its JUnit report (the pytest plugin leaves reports to pytest's --junitxml).
    junit_xml: str | None = None
    report_json: str | None = None
    report_html: str | None = None
    # Bounds every pagination walk, so a looping or endless server cannot hold the run.
    max_pages: int = 60
    schema_checks: bool = True
    semantic_checks: bool = True
    spec_path: Path = SPEC_PATH

    def __post_init__(self) -> None:
        if not (self.mifumo_url or self.wepay_url):
            raise UsageError("give at least one target: --mifumo-url or --wepay-url")
        for url in (self.mifumo_url, self.wepay_url):
            if url and not url.startswith(("http://", "https://")):
                raise UsageError(f"target URL must start with http:// or https://, got {url!r}")
        if self.mifumo_url and not self.bearer_token:
            raise UsageError("a Mifumo target needs its access token: --bearer-token or BILLING_BEARER_TOKEN")
        if self.wepay_url and not (self.app_id and self.app_token):
            raise UsageError(
                "a WePay target needs its credentials: --app-id and --app-token, "
                "or BILLING_APP_ID and BILLING_APP_TOKEN"
            )
        if self.max_examples < 1:
            raise UsageError("--max-examples must be at least 1")
        if self.timeout <= 0 or (self.deadline is not None and self.deadline <= 0):
            raise UsageError("--timeout and --deadline must be positive")
        if self.max_rate is not None and self.max_rate <= 0:
            raise UsageError("--max-rate must be positive")
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise UsageError(f"--concurrency must be from 1 to {MAX_CONCURRENCY}")
        if self.client_key and not self.client_cert:
            raise UsageError("--client-key needs the certificate it belongs to: --client-cert FILE")
        if self.insecure and self.ca_cert:
            raise UsageError("--insecure skips the certificate check that --ca-cert is for: give one of them")

    def url_for(self, api: str) -> str | None:
        url = getattr(self, f"{api}_url")  # each API profile's target: --mifumo-url, --wepay-url
        return url.rstrip("/") if url else None

    @property
    def apis(self) -> tuple[str, ...]:
        return tuple(api for api in APIS if self.url_for(api))

    @property
    def version(self) -> str:
        """The Api-Version sent to WePay: the one given, else the first the spec supports."""
        return self.api_version or load_spec(str(self.spec_path)).facts.default_api_version

    def secrets(self) -> dict[str, str]:
        """Each credential and the environment variable the CLI reads it from: reports show the variable,
        so a repro command runs as is wherever the suite's variables are set, and never leaks a secret."""
        pairs = (
            (self.bearer_token, "BILLING_BEARER_TOKEN"),
            (self.app_token, "BILLING_APP_TOKEN"),
            (self.app_id, "BILLING_APP_ID"),
        )
        return {value: name for value, name in pairs if value}

    def auth_headers(self, api: str) -> dict[str, str]:
        given = {
            "bearer_token": self.bearer_token,
            "app_id": self.app_id,
            "app_token": self.app_token,
            "api_version": self.version,
        }
        return PROFILES[api].request_headers(load_spec(str(self.spec_path)).facts, given)


def config_from_options(
    given: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    options: tuple[Option, ...] = OPTIONS,
    **extra: Any,
) -> SuiteConfig:
    """A SuiteConfig from option values keyed by field (None where not given) and the environment;
    `options` are those the caller has (the pytest plugin has no --junit-xml)."""
    environ = os.environ if environ is None else environ
    values = {option.field: option.resolve(given.get(option.field), environ) for option in options}
    excluded = {name.strip() for item in values.pop("exclude_check") for name in item.split(",") if name.strip()}
    present = {key: value for key, value in values.items() if value is not None}
    return SuiteConfig(**present, exclude_checks=frozenset(excluded), **extra)
