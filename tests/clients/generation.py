"""Running the client generators as a client team does, for tests/clients.

A generator's warnings are how it says it dropped something (a response, a model) from the client; the
tests require none, from the file and from the URL the mock serves.
"""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

PACKAGE = "billing_client"
# Run from the generated package, the generator leaves its formatter's cache beside the code.
_NOT_GENERATED = {".ruff_cache", "__pycache__"}


def python_client(source: list[str], out_dir: Path) -> tuple[Path, str]:
    """openapi-python-client on `--path FILE` or `--url URL`: (the package directory, everything it printed)."""
    package = out_dir / PACKAGE
    command = [sys.executable, "-m", "openapi_python_client", "generate", *source, "--meta", "none"]
    done = subprocess.run(
        [*command, "--output-path", str(package)], capture_output=True, text=True, timeout=300, cwd=out_dir
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return package, output


def generator_warnings(output: str) -> list[str]:
    """The lines of a generator's output that report a problem (openapi-python-client, openapi-typescript)."""
    markers = ("warning", "error", "cannot", "unable", "⚠")
    return [line for line in output.splitlines() if any(marker in line.lower() for marker in markers)]


def different_files(left: Path, right: Path) -> list[str]:
    """Files present in one tree only, or differing in content, ignoring tool caches."""
    found: list[str] = []

    def walk(cmp: filecmp.dircmp, prefix: str) -> None:
        only = [name for name in cmp.left_only + cmp.right_only if name not in _NOT_GENERATED]
        found.extend(prefix + name for name in only + cmp.diff_files + cmp.funny_files)
        for name, sub in cmp.subdirs.items():
            if name not in _NOT_GENERATED:
                walk(sub, f"{prefix}{name}/")

    walk(filecmp.dircmp(left, right, ignore=[]), "")
    return found
