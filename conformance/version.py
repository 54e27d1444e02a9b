"""The suite's version, as installed (`billing-conformance --version`, and every report's properties)."""

from __future__ import annotations

from importlib import metadata

DISTRIBUTION = "billing-contract"


def package_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"
