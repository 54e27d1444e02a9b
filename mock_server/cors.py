"""CORS for browser clients: preflights answered before the contract sees them.

An origin entry without a port (`http://localhost`) admits that host on any port, since dev servers
move around; `*` admits every origin.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

EXPOSED = ["X-Correlation-Id", "Retry-After", "WWW-Authenticate", "Allow"]


def origin_regex(origins: Sequence[str]) -> str:
    parts = []
    for origin in origins:
        if origin == "*":
            return ".*"
        if re.search(r":\d+$", origin):
            parts.append(re.escape(origin))
        else:
            parts.append(re.escape(origin) + r"(:\d+)?")
    return "^(" + "|".join(parts) + ")$" if parts else "^$"


def cors(app: ASGIApp, origins: Sequence[str]) -> ASGIApp:
    return CORSMiddleware(
        app,
        allow_origin_regex=origin_regex(origins),
        allow_methods=["GET", "HEAD", "OPTIONS"],
        allow_headers=["Authorization", "App-Id", "App-Token", "Api-Version", "Unique-Key", "Prefer", "Content-Type"],
        expose_headers=EXPOSED,
        max_age=600,
    )
