"""What went wrong with a request, independent of how either API words it.

Connexion's problems, the validator's findings and the handlers' own refusals all become an
`ApiProblem`; `mock_server.errors.handler` then renders it in the owning API's error body.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Literal

Location = Literal["query", "header", "path"]


class Reason(enum.StrEnum):
    MISSING = "missing"
    TYPE = "type"
    MINIMUM = "minimum"
    MAXIMUM = "maximum"
    ENUM = "enum"
    MIN_LENGTH = "minLength"
    MAX_LENGTH = "maxLength"
    PATTERN = "pattern"
    PAST_LAST_PAGE = "past_last_page"
    INVALID_CURSOR = "invalid_cursor"
    NOT_ALLOWED_WITH_CURSOR = "not_allowed_with_cursor"
    INVALID = "invalid"


@dataclass(frozen=True)
class FieldError:
    """One bad request field: where it is, which schema rule it broke, and that rule's bound."""

    location: Location
    name: str
    reason: Reason
    value: Any = None
    limit: Any = None
    # A full sentence for errors no schema keyword describes (a bad `Prefer` header, say).
    message: str | None = None


class Kind(enum.Enum):
    INVALID_REQUEST = "invalid_request"
    UNAUTHENTICATED = "unauthenticated"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    THROTTLED = "throttled"
    SERVER_ERROR = "server_error"
    # The validating proxy's own answers: the upstream gave no usable answer, or (--strict) one that
    # breaks the contract (502); the upstream did not answer in time (504). `detail` says which.
    BAD_GATEWAY = "bad_gateway"
    GATEWAY_TIMEOUT = "gateway_timeout"


@dataclass
class ApiProblem(Exception):
    kind: Kind
    errors: tuple[FieldError, ...] = ()
    # UNAUTHENTICATED: True when credentials were presented but rejected (vs absent).
    credentials_presented: bool = False
    # UNAUTHENTICATED with a presented bearer token: simplejwt's reason (mock_server.security.TokenError value).
    token_error: str | None = None
    # NOT_FOUND: the missing resource's path parameter, when a resource (not a route) is missing.
    resource_param: str | None = None
    allow: tuple[str, ...] = ()
    retry_after: int | None = None
    detail: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.detail or self.errors}"
