"""A contract-first mock of the Mifumo SMS and WePay v3 billing APIs, served by connexion."""

import warnings

# connexion 3.3 imports jsonschema's deprecated RefResolver and RefResolutionError: three
# DeprecationWarnings at import, which a client team's own pytest run reports (and which fail a run
# under `-W error::DeprecationWarning`) though nothing in their code or ours can act on them. The mock
# imports connexion first, here, with exactly those silenced; every other warning still shows.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r".*RefResol", category=DeprecationWarning, module=r"connexion\.")
    import connexion  # noqa: F401

from mock_server.app import MockApp, create_app
from mock_server.config import MockConfig
from mock_server.security import Credentials

__all__ = ["Credentials", "MockApp", "MockConfig", "create_app"]
