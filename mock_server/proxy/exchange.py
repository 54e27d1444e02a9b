"""One relayed exchange as the contract's rules read it (`billing_contract.rules.ExchangeLike`): the request
the client sent, as the client addressed it, and the upstream's answer."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import httpx

Headers = list[tuple[bytes, bytes]]


def _lookup(headers: Headers, name: str) -> str | None:
    wanted = name.lower().encode("latin-1")
    return next((v.decode("latin-1") for k, v in headers if k.lower() == wanted), None)


@dataclass
class RelayedExchange:
    method: str
    url: str  # the URL the client used (the proxy's scheme, host and port)
    status: int
    request_headers: Headers
    response_headers: Headers
    raw_body: bytes  # as the upstream sent it (perhaps content-encoded)
    json_cache: dict[str, Any] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return _lookup(self.response_headers, name)

    def sent(self, name: str) -> str | None:
        return _lookup(self.request_headers, name)

    @cached_property
    def content(self) -> bytes:
        """The body decoded per its Content-Encoding (gzip, deflate, br), as a client reads it."""
        if not self.header("content-encoding"):
            return self.raw_body
        response = httpx.Response(self.status, headers=self.response_headers, content=self.raw_body)
        try:
            return response.read()
        except httpx.DecodingError:
            return self.raw_body

    @cached_property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    @cached_property
    def body(self) -> Any:
        """The JSON body, or None when it is not JSON."""
        try:
            return json.loads(self.content)
        except ValueError:
            return None
