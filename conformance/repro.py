"""Repro commands: a `curl` line per failure that runs as is wherever the suite's `BILLING_…` variables are
set. Secrets are never printed: each appears as the `${VAR}` the suite reads it from, inside double quotes
so the shell expands it; every other word is quoted so the shell leaves it alone."""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping


def _escaped(text: str) -> str:
    """Text safe inside double quotes."""
    for char in ("\\", '"', "`", "$"):
        text = text.replace(char, "\\" + char)
    return text


def word(text: str, secrets: Mapping[str, str], prefix: str = "") -> str:
    """One shell word, `prefix` + `text`; a secret in `text` becomes its `${VAR}` (the prefix, a header's
    name, is left alone: a short secret must not rewrite it)."""
    hidden = [secret for secret in secrets if secret and secret in text]
    if not hidden:
        return shlex.quote(prefix + text)
    escaped = _escaped(text)
    for secret in hidden:
        escaped = escaped.replace(_escaped(secret), f"${{{secrets[secret]}}}")
    return f'"{_escaped(prefix)}{escaped}"'


def curl(method: str, url: str, headers: Iterable[tuple[str, str]], secrets: Mapping[str, str]) -> str:
    parts = ["curl", "-i", "-X", method, shlex.quote(url)]
    for name, value in headers:
        parts += ["-H", word(value, secrets, prefix=f"{name}: ")]
    return " ".join(parts)


def hide_secrets(command: str, secrets: Mapping[str, str]) -> str:
    """A shell command written by someone else (Schemathesis' repro) with every secret as its `${VAR}`."""
    try:
        words = shlex.split(command)
    except ValueError:
        return "" if any(secret and secret in command for secret in secrets) else command
    return " ".join(word(part, secrets) for part in words)
