"""The command-line machinery `billing-mock` and `billing-mock proxy` share: every flag also reads its
`BILLING_MOCK_*` variable (which is also how the configuration reaches uvicorn's worker processes), a bad
value or start-up condition is one line and exit status 2, and SIGTERM stops a command cleanly."""

from __future__ import annotations

import argparse
import errno
import os
import signal
import socket
from collections.abc import Callable
from typing import Any, TypeVar

from fixtures import DEFAULT_SEED, DatasetSize

N = TypeVar("N", int, float)
ENV_PREFIX = "BILLING_MOCK_"
EXIT_USAGE = 2
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


def logs_access(log_level: str) -> bool:
    """Whether uvicorn's access log is on: at `info` and below. Above, it is switched off rather than
    filtered, because uvicorn formats each line's arguments (client, quoted path) before the level check."""
    return LOG_LEVELS.index(log_level) >= LOG_LEVELS.index("info")


class ConfigurationError(Exception):
    """A flag, variable, file or port billing-mock cannot start with: one line, exit status 2. (The
    suite's `conformance.UsageError` is its own: the two command lines share nothing.)"""


def env_value(name: str, default: str | None = None) -> str | None:
    return os.environ.get(ENV_PREFIX + name.upper().replace("-", "_"), default)


def number(name: str, default: N, kind: Callable[[str], N]) -> N:
    raw = env_value(name)
    if raw is None:
        return default
    try:
        return kind(raw)
    except ValueError:
        variable = ENV_PREFIX + name.upper().replace("-", "_")
        raise ConfigurationError(f"{variable} must be a number, got {raw!r}") from None


def integer(name: str, default: int) -> int:
    return number(name, default, int)


def switch(name: str) -> bool:
    return (env_value(name) or "").lower() in ("1", "true", "yes")


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, no usage dump
        raise ConfigurationError(message)


def add_flag(parser: argparse.ArgumentParser, flag: str, text: str, shown_default: object, **kwargs: Any) -> None:
    """A flag whose help names its built-in default and its environment variable (which overrides the
    default, so `--help` under an exported variable shows the value in force as the default)."""
    env = ENV_PREFIX + flag.lstrip("-").upper().replace("-", "_")
    parser.add_argument(flag, help=f"{text} (default: {shown_default}; env {env})".replace("%", "%%"), **kwargs)


DATASET_FLAGS = (("records", "Mifumo records"), ("statements", "WePay statements"), ("accounts", "WePay accounts"))


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    add_flag(
        parser,
        "--seed",
        "Faker seed: same seed, same data",
        DEFAULT_SEED,
        type=int,
        default=integer("seed", DEFAULT_SEED),
    )
    for name, text in DATASET_FLAGS:
        default = getattr(DatasetSize, name)
        add_flag(parser, f"--{name}", text, default, type=int, default=integer(name, default))


def check_port(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            reason = "is already in use" if exc.errno == errno.EADDRINUSE else f"cannot be bound ({exc.strerror})"
            raise ConfigurationError(f"port {port} on {host} {reason}") from None


def stop_on_sigterm() -> None:
    """SIGTERM stops the mock at any point, also as a container's PID 1 (which the kernel spares a signal's
    default action): during start-up it ends the run at once; while uvicorn serves, uvicorn's own handler lets
    in-flight requests finish and re-raises it after the clean shutdown. Either way, exit 0."""
    signal.signal(signal.SIGTERM, _raise_interrupt)


def _raise_interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # uvicorn.run and main() both take it as a clean stop
