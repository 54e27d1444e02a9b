"""What an API's error body is made of: the response a renderer returns, and the protocol each API's
renderer (`drf`, `v3`) follows. Fixed texts come from the contract's own named examples."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from billing_contract.spec import Spec
from mock_server.errors.problem import ApiProblem, Kind

_MAX_ECHO = 80
# The proxy's statuses for an upstream that failed it.
GATEWAY_STATUS = {Kind.BAD_GATEWAY: 502, Kind.GATEWAY_TIMEOUT: 504}


@dataclass
class ErrorResponse:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class Envelope(Protocol):
    def render(self, problem: ApiProblem, method: str) -> ErrorResponse: ...


def echo(value: Any) -> str:
    """A client's value quoted back in a message, cut short."""
    text = str(value)
    return text if len(text) <= _MAX_ECHO else text[:_MAX_ECHO] + "…"


def component_example(spec: Spec, response: str, example: str) -> Any:
    """The value of a named example of a response component."""
    node = spec.resolve(spec.document["components"]["responses"][response])
    return node["content"]["application/json"]["examples"][example]["value"]
