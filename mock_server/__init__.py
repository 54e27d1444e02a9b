"""A contract-first mock of the Mifumo SMS and WePay v3 billing APIs, served by connexion.

The names below load on first use: the mock's pytest plugin (`mock_server.pytest_plugin`) is imported at
every pytest start in the environment, and must not bring connexion, Starlette and uvicorn into runs
that never ask for the `billing_mock` fixture.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mock_server.app import MockApp, create_app
    from mock_server.config import MockConfig
    from mock_server.security import Credentials

__all__ = ["Credentials", "MockApp", "MockConfig", "create_app"]

_WHERE = {
    "Credentials": "mock_server.security",
    "MockApp": "mock_server.app",
    "MockConfig": "mock_server.config",
    "create_app": "mock_server.app",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'mock_server' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


# connexion 3.3 imports jsonschema's deprecated RefResolver and RefResolutionError: three
# DeprecationWarnings at import, which a client team's own pytest run reports (and which fail a run
# under `-W error::DeprecationWarning`) though nothing in their code or ours can act on them. Whichever
# module of the mock imports connexion first, it is loaded with exactly those silenced; every other
# warning still shows. (Importing it here, eagerly, would cost every pytest run the plugin loads in.)
class _QuietLoader(importlib.abc.Loader):
    def __init__(self, inner: importlib.abc.Loader) -> None:
        self._inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        # The real loader back in place first: importlib.resources and friends ask it, not this one.
        module.__loader__ = self._inner
        if module.__spec__ is not None:
            module.__spec__.loader = self._inner
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*RefResol", category=DeprecationWarning, module=r"connexion\.")
            self._inner.exec_module(module)


class _QuietConnexion(importlib.abc.MetaPathFinder):
    """Finds connexion the first time anything imports it, for `_QuietLoader`; then steps aside."""

    def find_spec(self, fullname: str, path: Any = None, target: ModuleType | None = None) -> Any:
        if fullname != "connexion":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


if "connexion" not in sys.modules:
    sys.meta_path.insert(0, _QuietConnexion())
