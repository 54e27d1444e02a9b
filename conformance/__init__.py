"""Conformance suite for the Mifumo SMS and WePay v3 billing APIs, driven by `specs/openapi.yaml`.

from conformance import SuiteConfig, run_suite
report = run_suite(SuiteConfig(mifumo_url="http://127.0.0.1:4010"))
report.exit_code  # 0 all passed, 1 a check failed

Checks end passed, failed, blocked (by the check reporting the root cause) or skipped (`Status`); the
rules one exchange can show are pure functions in `billing_contract.rules`, shared with the validating proxy.

The names below load on first use: the pytest plugin (`conformance.pytest_plugin`) is imported at every
pytest start, and must not bring the HTTP clients and Schemathesis into runs that never use the suite.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conformance.config import SuiteConfig
    from conformance.errors import CredentialsRejected, TargetUnreachable, UsageError
    from conformance.report import CheckResult, Status, SuiteReport
    from conformance.runner import run_suite

# Each public name and the module it lives in.
_WHERE = {
    "CheckResult": "conformance.report",
    "CredentialsRejected": "conformance.errors",
    "Status": "conformance.report",
    "SuiteConfig": "conformance.config",
    "SuiteReport": "conformance.report",
    "TargetUnreachable": "conformance.errors",
    "UsageError": "conformance.errors",
    "run_suite": "conformance.runner",
}

__all__ = [
    "CheckResult",
    "CredentialsRejected",
    "Status",
    "SuiteConfig",
    "SuiteReport",
    "TargetUnreachable",
    "UsageError",
    "run_suite",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'conformance' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value
