"""What many tests share: the suite pointed at a mock with the mock's own credentials.

The suite has no default credentials (it checks real backends); tests give it the mock's, explicitly.
"""

from __future__ import annotations

from typing import Any

from conformance import SuiteConfig
from mock_server.security import Credentials

MOCK_CREDENTIALS = Credentials()

# The suite's environment variables for the default mock's credentials (CLI subprocesses inherit them).
MOCK_SUITE_ENV = {
    "BILLING_BEARER_TOKEN": MOCK_CREDENTIALS.bearer_token,
    "BILLING_APP_ID": MOCK_CREDENTIALS.app_id,
    "BILLING_APP_TOKEN": MOCK_CREDENTIALS.app_token,
}


def suite_config(credentials: Credentials = MOCK_CREDENTIALS, **kwargs: Any) -> SuiteConfig:
    """A SuiteConfig carrying the mock's credentials (or the given ones) and the other fields as given."""
    return SuiteConfig(
        bearer_token=credentials.bearer_token, app_id=credentials.app_id, app_token=credentials.app_token, **kwargs
    )
