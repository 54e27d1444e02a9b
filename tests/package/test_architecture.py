"""ARCHITECTURE.md names only files and folders that exist: the map may not drift from the tree."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "ARCHITECTURE.md"
# A path-like name in backticks: folders end with `/`, files have an extension.
PATH = re.compile(r"`(\w[\w./-]*(?:/|\.(?:py|yaml|md|toml)))`")
# Bare module names the page uses within a package's paragraph, resolved against these folders.
PACKAGES = ("billing_contract", "fixtures", "mock_server", "mock_server/pipeline", "mock_server/errors",
            "mock_server/proxy", "conformance", "conformance/checks", "specs", "tests")  # fmt: skip


def _exists(name: str) -> bool:
    return (ROOT / name).exists() or any((ROOT / package / name).exists() for package in PACKAGES)


def test_every_path_in_the_architecture_page_exists() -> None:
    names = PATH.findall(DOC.read_text(encoding="utf-8"))
    assert len(names) > 40, names
    missing = sorted({name for name in names if not _exists(name)})
    assert not missing, missing


def test_a_missing_file_would_be_found() -> None:
    assert not _exists("mock_server/no_such_module.py") and _exists("pipeline/drf_views.py")
