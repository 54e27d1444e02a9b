"""The packages' import graph has no cycles; the suite and the mock each depend on the contract, never on
each other (what both apply to an exchange, the rules, is the contract's: `billing_contract.rules`).

Every `import` and `from ... import` of the project's own modules counts, lazy ones inside functions too;
only those under `if TYPE_CHECKING:` (never run) are left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("billing_contract", "fixtures", "mock_server", "conformance")


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for statement in block.body
        for node in ast.walk(statement)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from package import submodule` depends on the submodule; `from module import name` on the module.
            names = [
                f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                for alias in node.names
            ]
        found |= {name for name in names if name in modules}
    return found - {_module(path)}


def _graph() -> dict[str, set[str]]:
    files = {_module(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")}
    return {module: _imports(path, set(files)) for module, path in files.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target] if target in path else [*path, target]
            if target not in state and (found := visit(target, [*path, target])):
                return found
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module, [module])):
            return found
    return None


def test_no_import_cycles() -> None:
    graph = _graph()
    assert len(graph) > 60
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def _reached(graph: dict[str, set[str]], package: str) -> set[str]:
    return {
        target.split(".")[0]
        for module, targets in graph.items()
        if module.split(".")[0] == package
        for target in targets
    }


def test_the_suite_imports_the_contract_and_never_the_mock() -> None:
    reached = _reached(_graph(), "conformance")
    assert "billing_contract" in reached
    assert reached <= {"conformance", "billing_contract"}, reached


def test_the_mock_never_imports_the_suite() -> None:
    reached = _reached(_graph(), "mock_server")
    assert "billing_contract" in reached
    assert "conformance" not in reached, reached


def test_the_contract_imports_only_itself() -> None:
    assert _reached(_graph(), "billing_contract") <= {"billing_contract"}


def test_a_cycle_would_be_found() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None
