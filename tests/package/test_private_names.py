"""The private names of third-party libraries the project relies on (connexion, Starlette, uvicorn,
Schemathesis, and werkzeug's proxy behind connexion's context) are few, fenced and watched.

* Each is listed in the one module that uses it (`PRIVATE_*_SYMBOLS`), and a scan of the source finds no other
  use: no `obj._name` on an object that is not `self`, and no import of a private module or name, unless
  listed in that very module.
* Each listed name still exists in the installed version; when one disappears, the failure names it, the
  module that relies on it, and the version installed.
* Where behaviour depends on one, a test drives that behaviour (connexion's security handlers bound to the
  configured credentials; Schemathesis' budget interrupt being the one its executors report as a time limit;
  the planned decorator's arguments against connexion's own: tests/mock_server/test_connexion_fastpath.py).

The lists are read from the source (ast), not imported: a name that disappeared can break the import itself,
and this test must still say which one.
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import importlib.metadata
import platform
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("billing_contract", "fixtures", "mock_server", "conformance")
THIRD_PARTY = ("connexion", "starlette", "uvicorn", "schemathesis", "werkzeug")
# The modules that may use private third-party names, and the name of the list each keeps of them.
FENCES = {
    "mock_server/connexion_fastpath.py": "PRIVATE_CONNEXION_SYMBOLS",
    "mock_server/security.py": "PRIVATE_CONNEXION_SYMBOLS",
    "conformance/schema_checks.py": "PRIVATE_SCHEMATHESIS_SYMBOLS",
    "conformance/probe.py": "PRIVATE_PYTHON_SYMBOLS",
}


def _listed(path: str) -> tuple[tuple[str, str], ...]:
    """The (module, attribute) pairs `path` lists, read from its source."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    for node in tree.body:
        target = (
            node.target
            if isinstance(node, ast.AnnAssign)
            else (node.targets[0] if isinstance(node, ast.Assign) else None)
        )
        if isinstance(target, ast.Name) and target.id == FENCES[path] and node.value is not None:
            return tuple(ast.literal_eval(node.value))
    raise AssertionError(f"{path} has no {FENCES[path]}")


ENTRIES = [(path, module, attribute) for path in FENCES for module, attribute in _listed(path)]


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _is_third_party(module: str) -> bool:
    return module.split(".")[0] in THIRD_PARTY


def _uses(path: Path) -> Iterator[tuple[int, str, str]]:
    """(line, private name, how it appears) for each private third-party import and each `obj._name` on an
    object that is not `self` or `cls` in one source file."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and _is_third_party(node.module):
            private_module = any(_private(part) for part in node.module.split("."))
            for alias in node.names:
                if private_module or _private(alias.name):
                    yield node.lineno, alias.name, f"from {node.module} import {alias.name}"
        elif isinstance(node, ast.Attribute) and _private(node.attr):
            owner = node.value
            if not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")):
                yield node.lineno, node.attr, ast.unparse(node)


def test_private_names_are_used_only_where_listed() -> None:
    unlisted = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            listed = _listed(relative) if relative in FENCES else ()
            names = {part for module, attribute in listed for part in (*module.split("."), *attribute.split("."))}
            unlisted += [f"{relative}:{line}: {shown}" for line, name, shown in _uses(path) if name not in names]
    assert not unlisted, (
        "private names outside the modules' PRIVATE_*_SYMBOLS lists (use a public API, or keep the use in one "
        "module, list it there and add that module to FENCES):\n" + "\n".join(unlisted)
    )


def _a_built_operation() -> Any:
    """One of the mock's connexion operations, built as at start-up (instance attributes live there)."""
    from starlette.testclient import TestClient

    from mock_server import MockConfig, create_app

    app = create_app(MockConfig())
    asgi_app = app.connexion_app.middleware.app  # the app connexion wraps: its middleware replaces it at start-up
    with TestClient(app):
        (api,) = asgi_app.apis[""]
    return next(iter(api.operations.values()))


def _a_request() -> Any:
    from connexion.lifecycle import ConnexionRequest

    return ConnexionRequest({"type": "http", "method": "GET", "path": "/", "headers": [], "query_string": b""})


# Attributes set per instance by their class's __init__: where to look for them.
INSTANCES: dict[str, Callable[[], Any]] = {
    "ConnexionRequest._query_params": _a_request,
    "AsyncOperation._fn": _a_built_operation,
}


@pytest.mark.parametrize(("path", "module", "attribute"), ENTRIES, ids=[f"{m}.{a}" for _, m, a in ENTRIES])
def test_every_listed_private_name_still_exists(path: str, module: str, attribute: str) -> None:
    distribution = module.split(".")[0]
    version = platform.python_version() if distribution in sys.stdlib_module_names else None
    installed = f"{distribution} {version or importlib.metadata.version(distribution)} (installed)"
    relied = f"which {path} relies on"
    try:
        owner: Any = importlib.import_module(module)
    except ImportError:
        pytest.fail(f"{installed} has no module {module}, {relied} for {attribute}")
    *parents, name = attribute.split(".")
    for depth, part in enumerate(parents):
        if not hasattr(owner, part):
            pytest.fail(f"{installed} no longer has {module}.{'.'.join(parents[: depth + 1])}, {relied}")
        owner = getattr(owner, part)
    instance = INSTANCES.get(attribute)
    if instance is not None:
        owner = instance()
    assert hasattr(owner, name), f"{installed} no longer has {module}.{attribute}, {relied}"


def test_every_fence_lists_something_and_is_scanned() -> None:
    """A list emptied by mistake (or a fence whose module moved) would make the two tests above vacuous."""
    for path in FENCES:
        assert _listed(path), path
    assert {attribute for _, _, attribute in ENTRIES} >= {
        "AbstractSecurityHandler._resolve_func",
        "BudgetExpired",
        "_get_val_from_param",
    }


# --- behaviour that depends on a private name ------------------------------------------------------------


def test_security_handlers_check_the_configured_credentials_through_resolve_func() -> None:
    """`security_map` binds connexion's handlers to the configured credentials by overriding `_resolve_func`
    and caches `_accepts_kwarg`: if connexion stopped calling either, the handler would find no check
    function (every request refused) or the cache would go unused."""
    from connexion.exceptions import OAuthResponseProblem
    from connexion.lifecycle import ConnexionRequest

    from mock_server.security import Credentials, security_map

    handlers = security_map(Credentials(bearer_token="configured-token"))
    handler = handlers["bearer"]()
    verify = handler.get_fn({"type": "http", "scheme": "bearer"}, None)
    assert verify is not None, "connexion no longer asks _resolve_func for the check function"

    def request(token: str) -> ConnexionRequest:
        headers = [(b"authorization", f"Bearer {token}".encode())]
        return ConnexionRequest({"type": "http", "method": "GET", "path": "/", "headers": headers, "query_string": b""})

    before = handlers["bearer"]._accepts_kwarg.cache_info()
    assert asyncio.run(verify(request("configured-token"))) == {"sub": "mifumo-user"}
    with pytest.raises(OAuthResponseProblem):
        asyncio.run(verify(request("another-token")))
    after = handlers["bearer"]._accepts_kwarg.cache_info()
    assert after.hits + after.misses > before.hits + before.misses, "connexion no longer calls _accepts_kwarg"


def test_budget_expired_is_what_schemathesis_executors_report_as_a_time_limit() -> None:
    """The suite raises Schemathesis' BudgetExpired at --deadline so that the operation ends as "time limit
    reached", results kept; its executors must still catch that very class (not a plain interrupt)."""
    from conformance import schema_checks

    version = importlib.metadata.version("schemathesis")
    for executor in ("_hypothesis_executor", "_direct_executor"):
        module = importlib.import_module(f"schemathesis.engine.run.unit.{executor}")
        assert getattr(module, "BudgetExpired", None) is schema_checks.BudgetExpired, (
            f"schemathesis {version}: engine.run.unit.{executor} no longer handles the BudgetExpired "
            "conformance/schema_checks.py raises at the deadline"
        )
    assert issubclass(schema_checks.BudgetExpired, KeyboardInterrupt)
