"""Where the contract's documents are, in a checkout and in an installed wheel.

The documents live at `specs/` in the repository, where people look for them. A wheel ships the same
files inside this package (`billing_contract/specs/`, mapped in pyproject.toml), so an install outside
the checkout finds them without the repository. An editable install has no copy: it reads the
checkout's `specs/` beside the package.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _specs_dir() -> Path:
    shipped = _PACKAGE_DIR / "specs"
    return shipped if (shipped / "openapi.yaml").is_file() else _PACKAGE_DIR.parent / "specs"


SPECS_DIR = _specs_dir()
SPEC_PATH = SPECS_DIR / "openapi.yaml"  # the contract of the two billing APIs
ADMIN_SPEC_PATH = SPECS_DIR / "mock-admin.yaml"  # the mock's tooling API, apart from the contract
