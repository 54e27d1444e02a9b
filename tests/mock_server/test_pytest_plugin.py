"""A client team's own pytest run, in a folder of their own (none of this project's pytest settings):
the mock's plugin and imports add no DeprecationWarning from the project's dependencies."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

USER_TESTS = """
import httpx
import pytest

from mock_server.controls import ControlSettings
from mock_server.testing import running_mock


def test_with_the_fixture(billing_mock):
    history = httpx.get(billing_mock.url + "/api/billing/history/", headers=billing_mock.mifumo_headers)
    assert history.status_code == 200
    refused = httpx.get(billing_mock.url + "/billing_statements", headers={"Prefer": "code=500"})
    assert refused.status_code == 403


@pytest.mark.billing_mock(controls=ControlSettings(rate_limit=True))
def test_with_a_marker(billing_mock):
    assert httpx.get(billing_mock.url + "/billing_statements", headers=billing_mock.wepay_headers).status_code == 200


def test_with_the_context_manager():
    with running_mock() as mock:
        assert httpx.get(mock.url + "/__mock/health").status_code == 200
"""

# How client teams run pytest: (environment, interpreter options, files beside the tests). The plugins
# found through their entry points, as installed; autoloading off and the plugin named in a conftest
# (imported while pytest records warnings); Python's own warning filters set to show every
# DeprecationWarning, or to make it an error, as strict projects do.
CONFTEST = 'pytest_plugins = ["mock_server.pytest_plugin"]\n'
RUNS = {
    "entry-points": ({}, [], {}),
    "autoload-off-conftest": ({"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}, [], {"conftest.py": CONFTEST}),
    "python-W-default": ({}, ["-W", "default::DeprecationWarning"], {}),
    "python-W-error": ({}, ["-W", "error::DeprecationWarning"], {}),
}


@pytest.mark.parametrize(("extra_env", "python_args", "files"), RUNS.values(), ids=RUNS.keys())
def test_a_users_pytest_run_shows_no_deprecation_warning(
    tmp_path: Path, extra_env: dict[str, str], python_args: list[str], files: dict[str, str]
) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # the user's own (empty) settings, not this project's
    (tmp_path / "test_client.py").write_text(USER_TESTS)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHONWARNINGS", "BILLING_"))}
    result = subprocess.run(
        [sys.executable, *python_args, "-m", "pytest", "-p", "no:cacheprovider", "-rA", "test_client.py"],
        cwd=tmp_path,
        env={**env, **extra_env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "3 passed" in output, output
    assert "DeprecationWarning" not in output and "warnings summary" not in output, output
