"""A contract-first mock of the Mifumo SMS and WePay v3 billing APIs, served by connexion."""

from mock_server.app import MockApp, create_app
from mock_server.config import MockConfig
from mock_server.security import Credentials

__all__ = ["Credentials", "MockApp", "MockConfig", "create_app"]
