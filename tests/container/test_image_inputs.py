"""What the image is built from, checked without building it: the wheel lists every package of the project
(a subpackage missing from pyproject.toml is missing from the wheel, so from the image: its mock would fail
at import), and .dockerignore lets in every file the wheel is built from."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _setuptools() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def test_pyproject_lists_every_package_of_the_project() -> None:
    config = _setuptools()
    listed = set(config["packages"])
    mapped = set(config.get("package-dir", {}))
    roots = {name.split(".")[0] for name in listed}
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for root in roots
        for init in (ROOT / root).rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert found - listed == set(), "packages the wheel (and the image) would lack: add them to pyproject.toml"
    assert listed - found - mapped == set(), "listed packages that do not exist"


def test_dockerignore_lets_in_what_the_wheel_is_built_from() -> None:
    config = _setuptools()
    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    assert lines[lines.index("*") + 1 :], "everything is ignored but what is let in after '*'"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    roots = {name.split(".")[0] for name in config["packages"]} | {
        directory.split("/")[0] for directory in config.get("package-dir", {}).values()
    }
    readme = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["readme"]
    needed = roots | {"pyproject.toml", readme}
    assert needed <= allowed, f"not in the build context: {sorted(needed - allowed)}"
    assert allowed <= needed, f"let in but not needed: {sorted(allowed - needed)}"
