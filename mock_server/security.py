"""Credential checks for the spec's security schemes, bound into connexion through its security map.

The spec names the schemes (http bearer for Mifumo, two header API keys for WePay); this module
only decides whether a presented value is the configured one, in constant time, and whether a
refused request had presented credentials at all (the two APIs answer those cases differently).
"""

from __future__ import annotations

import base64
import binascii
import enum
import functools
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from connexion.security import AbstractSecurityHandler, ApiKeySecurityHandler, BearerSecurityHandler


def _jwt_shaped(payload: dict[str, Any], key: bytes) -> str:
    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = part(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = part(json.dumps(payload, separators=(",", ":")).encode())
    signature = part(hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{signature}"


# The key the mock signs its JWT-shaped tokens with (simplejwt's SIGNING_KEY): a token it signed whose `exp`
# has passed is "expired"; any other refused token is "invalid", as simplejwt tells them apart.
SIGNING_KEY = b"billing-mock"
# A fixed, JWT-shaped simplejwt access token (expires 2100-01-01) so JWT-decoding clients work.
DEFAULT_BEARER_TOKEN = _jwt_shaped(
    {"token_type": "access", "exp": 4102444800, "iat": 1764547200, "jti": "billing-mock", "user_id": 1},
    SIGNING_KEY,
)
# The same token, expired an hour after it was issued (2025-12-01T01:00:00Z): what a client holding a stale
# access token sends. The mock answers it with simplejwt's "Token is expired".
EXPIRED_BEARER_TOKEN = _jwt_shaped(
    {"token_type": "access", "exp": 1764550800, "iat": 1764547200, "jti": "billing-mock-expired", "user_id": 1},
    SIGNING_KEY,
)
DEFAULT_APP_ID = "mock-app-id"
DEFAULT_APP_TOKEN = "mock-app-token"


@dataclass(frozen=True)
class Credentials:
    bearer_token: str = DEFAULT_BEARER_TOKEN
    app_id: str = DEFAULT_APP_ID
    app_token: str = DEFAULT_APP_TOKEN

    def expected_api_key(self, header: str) -> str | None:
        return {"app-id": self.app_id, "app-token": self.app_token}.get(header.lower())


def same_secret(presented: str, expected: str) -> bool:
    return hmac.compare_digest(
        presented.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape")
    )


# simplejwt's AUTH_HEADER_TYPES: the scheme word is matched exactly, not case-insensitively.
BEARER_SCHEME = "Bearer"


def bearer_presented(headers: Mapping[str, str]) -> bool:
    """simplejwt answers "not provided" unless the header's first word is exactly `Bearer`."""
    parts = headers.get("authorization", "").split()
    return bool(parts) and parts[0] == BEARER_SCHEME


def bearer_accepted(headers: Mapping[str, str], credentials: Credentials) -> bool:
    """Whether simplejwt would authenticate these headers: `Bearer` and exactly the configured token."""
    parts = headers.get("authorization", "").split()
    return len(parts) == 2 and parts[0] == BEARER_SCHEME and same_secret(parts[1], credentials.bearer_token)


class TokenError(enum.Enum):
    """Why simplejwt refused a presented `Bearer` header (its answers differ)."""

    BAD_HEADER = "bad_authorization_header"  # not exactly the scheme and one token
    INVALID = "invalid"  # not a token simplejwt issued, or altered
    EXPIRED = "expired"  # a token it issued, past its `exp`


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _expired(token: str, now: float) -> bool:
    """A JWT signed with the mock's key whose `exp` has passed (the signature is checked first, as PyJWT does)."""
    try:
        head, body, signature = token.split(".")
        expected = hmac.new(SIGNING_KEY, f"{head}.{body}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(_b64(signature), expected):
            return False
        exp = json.loads(_b64(body)).get("exp")
    except (ValueError, binascii.Error, UnicodeError, AttributeError):
        return False
    return isinstance(exp, int | float) and exp <= now


def token_error(authorization: str, now: float) -> TokenError:
    """simplejwt's reason for refusing a presented `Bearer` header (JWTAuthentication.get_raw_token, then the
    token backend): not two space-delimited values, else expired, else invalid."""
    parts = authorization.split()
    if len(parts) != 2:
        return TokenError.BAD_HEADER
    return TokenError.EXPIRED if _expired(parts[1], now) else TokenError.INVALID


# Connexion's security handlers are bound to the configured credentials by overriding `_resolve_func` (the
# spec would otherwise have to name an `x-bearerInfoFunc` by import path) and sped up by caching
# `_accepts_kwarg`: neither has a public equivalent. Checked by tests/package/test_private_names.py.
PRIVATE_CONNEXION_SYMBOLS: tuple[tuple[str, str], ...] = (
    ("connexion.security", "AbstractSecurityHandler._accepts_kwarg"),
    ("connexion.security", "AbstractSecurityHandler._resolve_func"),
)


class _CachedSignatures:
    """connexion asks `inspect.signature` of the check function twice per request; the answer never changes."""

    @staticmethod
    @functools.lru_cache(maxsize=64)
    def _accepts_kwarg(func: Callable[..., Any], keyword: str) -> bool:
        return AbstractSecurityHandler._accepts_kwarg(func, keyword)


def security_map(credentials: Credentials) -> dict[str, type]:
    """Connexion security handlers bound to these credentials (no `x-*InfoFunc` needed in the spec)."""

    def check_bearer(token: str, request: Any = None) -> dict[str, Any] | None:
        if request is not None and not bearer_presented(request.headers):
            return None
        return {"sub": "mifumo-user"} if same_secret(token, credentials.bearer_token) else None

    def check_api_key_for(header: str) -> Callable[..., dict[str, Any] | None]:
        expected = credentials.expected_api_key(header)

        def check(api_key: str, required_scopes: Any = None) -> dict[str, Any] | None:
            return {"sub": header} if expected is not None and same_secret(api_key, expected) else None

        return check

    class Bearer(_CachedSignatures, BearerSecurityHandler):
        def _resolve_func(self, security_scheme: dict[str, Any]) -> Callable[..., Any]:
            return check_bearer

    class ApiKey(_CachedSignatures, ApiKeySecurityHandler):
        def _resolve_func(self, security_scheme: dict[str, Any]) -> Callable[..., Any]:
            return check_api_key_for(security_scheme["name"])

    return {"bearer": Bearer, "apiKey": ApiKey}


def credentials_presented(schemes: list[Mapping[str, Any]], headers: Mapping[str, str]) -> bool:
    """Whether the request carried every credential the operation's security requirement names."""
    for scheme in schemes:
        if scheme.get("type") == "http" and scheme.get("scheme", "").lower() == "bearer":
            if not bearer_presented(headers):
                return False
        elif scheme.get("type") == "apiKey" and scheme.get("in") == "header" and scheme["name"].lower() not in headers:
            return False
    return True
