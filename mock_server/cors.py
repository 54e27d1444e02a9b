"""CORS for browser clients: preflights answered before the contract sees them.

An origin entry without a port (`http://localhost`) admits that host on any port, since dev servers
move around; `*` admits every origin.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from billing_contract.spec import Spec

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


def request_headers(spec: Spec) -> list[str]:
    """Every header a browser client may send: the spec's header parameters and credentials, plus `Prefer`."""
    names = ["Prefer", "Content-Type"]
    for scheme in spec.document.get("components", {}).get("securitySchemes", {}).values():
        names.append("Authorization" if scheme.get("type") == "http" else scheme.get("name", ""))
    for operation_id in spec.operations:
        names += [p["name"] for p in spec.parameters(operation_id) if p["in"] == "header"]
    return sorted({n for n in names if n})


def cors(app: ASGIApp, origins: Sequence[str], spec: Spec) -> ASGIApp:
    return CORSMiddleware(
        app,
        allow_origin_regex=origin_regex(origins),
        allow_methods=["GET", "HEAD", "OPTIONS"],
        allow_headers=request_headers(spec),
        expose_headers=EXPOSED,
        max_age=600,
    )
