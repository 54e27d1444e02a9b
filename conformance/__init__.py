"""Conformance suite for the Mifumo SMS and WePay v3 billing APIs, driven by `specs/openapi.yaml`.

from conformance import SuiteConfig, run_suite
report = run_suite(SuiteConfig(mifumo_url="http://127.0.0.1:4010"))
report.exit_code  # 0 all passed, 1 a check failed

Checks end passed, failed, blocked (by the check reporting the root cause) or skipped (`Status`); the
rules one exchange can show are pure functions in `billing_contract.rules`, shared with the validating proxy.
"""

from conformance.config import SuiteConfig, UsageError
from conformance.report import CheckResult, Status, SuiteReport
from conformance.runner import CredentialsRejected, TargetUnreachable, run_suite

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
