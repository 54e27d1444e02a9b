"""A contract-first mock of the Mifumo SMS and WePay v3 billing APIs, served by connexion.

The public names load lazily: `fixtures` imports `mock_server.spec`, and an eager import of the app
here would make `import fixtures` (before `mock_server`) circular.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mock_server.app import MockApp, create_app
    from mock_server.config import MockConfig
    from mock_server.security import Credentials

_EXPORTS = {
    "MockApp": "mock_server.app",
    "create_app": "mock_server.app",
    "MockConfig": "mock_server.config",
    "Credentials": "mock_server.security",
}
__all__ = ["Credentials", "MockApp", "MockConfig", "create_app"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'mock_server' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
