"""Why a run cannot give a verdict at all (the CLI exits 2, the pytest plugin stops with a usage error).

Kept apart from the modules that run the suite, so the CLI's parser and the pytest plugin can name these
without importing the HTTP clients or Schemathesis.
"""

from __future__ import annotations


class UsageError(Exception):
    """The run was asked for something impossible (no target, bad value, unknown check name)."""


class TargetUnreachable(UsageError):
    """A target gave no HTTP answer on the API's path (refused, timed out, not HTTP, TLS trouble): whatever
    the checks reported would be about the operator's setup, not about the backend's contract."""


class CredentialsRejected(UsageError):
    """The target refused the credentials the run was given: nothing it answers would say anything."""
