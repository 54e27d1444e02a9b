"""What every report says about the run besides its results: the targets, the seed, the settings, and the
versions of the suite, Schemathesis and Python. Built from the run's `SuiteConfig`, or, when the flags
could not make one (a usage error), from what was given, as far as it can be read."""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from billing_contract import APIS
from conformance.config import SuiteConfig, UsageError
from conformance.options import OPTIONS, REPORT_FIELDS
from conformance.recorded import mask

# Options a report never shows: credentials (their variables are named in the repros instead).
SECRET_FIELDS = {"bearer_token", "app_id", "app_token"}


@dataclass(frozen=True)
class RunInfo:
    targets: dict[str, str | None]
    seed: int | None
    settings: dict[str, Any]
    versions: dict[str, str]


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


def versions() -> dict[str, str]:
    return {
        "billing-conformance": _version("billing-contract"),
        "schemathesis": _version("schemathesis"),
        "python": platform.python_version(),
    }


def shown_url(url: str | None, secrets: Mapping[str, str]) -> str | None:
    """A target URL as a report shows it: a password in it replaced, a configured secret as its variable."""
    if not url:
        return None
    scheme, netloc, path, query, fragment = urlsplit(url)
    if urlsplit(url).password:
        user, host = netloc.rsplit("@", 1)
        netloc = f"{user.split(':', 1)[0]}:***@{host}"
    return mask(urlunsplit((scheme, netloc, path, query, fragment)), secrets)


def _from_config(config: SuiteConfig) -> RunInfo:
    secrets = config.secrets()
    settings = {
        "max_examples": config.max_examples,
        "timeout": config.timeout,
        "deadline": config.deadline,
        "max_rate": config.max_rate,
        "exclude_checks": sorted(config.exclude_checks),
        "api_version": config.api_version,
        "schema_checks": config.schema_checks,
        "semantic_checks": config.semantic_checks,
        "max_pages": config.max_pages,
    }
    targets = {api: shown_url(config.url_for(api), secrets) for api in APIS}
    return RunInfo(targets, config.seed, settings, versions())


def _from_given(given: Mapping[str, Any]) -> RunInfo:
    """No config could be made: each option as given (or from its variable), raw text where it is bad."""
    values: dict[str, Any] = {}
    for option in OPTIONS:
        if option.field in REPORT_FIELDS or option.field in SECRET_FIELDS:
            continue
        try:
            values[option.field] = option.resolve(given.get(option.field), os.environ)
        except UsageError:
            values[option.field] = given.get(option.field)
    targets = {api: shown_url(values.pop(f"{api}_url", None), {}) for api in APIS}
    seed = values.pop("seed", None)
    values["exclude_checks"] = values.pop("exclude_check", [])
    return RunInfo(targets, seed if isinstance(seed, int) else None, values, versions())


def run_info(config: SuiteConfig | None, given: Mapping[str, Any] | None = None) -> RunInfo:
    return _from_config(config) if config is not None else _from_given(given or {})
