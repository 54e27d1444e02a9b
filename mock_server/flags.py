"""The command-line machinery `billing-mock`'s commands share: a bad flag, value or start-up condition is one
line and exit status 2, and SIGTERM stops a command cleanly. (The options themselves, and the `BILLING_MOCK_*`
variable each reads, are one table: `mock_server.options`.)"""

from __future__ import annotations

import argparse
import errno
import signal
import socket

EXIT_USAGE = 2
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


def logs_access(log_level: str) -> bool:
    """Whether uvicorn's access log is on: at `info` and below. Above, it is switched off rather than
    filtered, because uvicorn formats each line's arguments (client, quoted path) before the level check."""
    return LOG_LEVELS.index(log_level) >= LOG_LEVELS.index("info")


class ConfigurationError(Exception):
    """A flag, variable, file or port billing-mock cannot start with: one line, exit status 2. (The
    suite's `conformance.UsageError` is its own: the two command lines share nothing.)"""


class Parser(argparse.ArgumentParser):
    """argparse's parser, whose mistakes are one line and exit 2 (`main` prints them), not a usage dump."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigurationError(message)


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
