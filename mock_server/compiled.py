"""The compiled path: a request connexion would answer with the handler's own answer, answered without
connexion's per-request middleware.

For each operation, once at start-up, a plan is compiled from the spec: its route (a path pattern),
its security requirement (the credential headers and their configured values), its parameters (the
validator's compiled schemas, connexion's URI parser) and the handler's arguments (`ArgumentPlan`). A
request that the plan can vouch for — an operation's route, every credential exactly right, every
parameter valid, no control asked for — goes straight to the handler. Anything else (any doubt, any
error) is handed to connexion unchanged, which decides it as it always did: every error keeps each
API's own body because every error still comes from connexion's path. The same parser, validator and
argument plan serve both paths, so they cannot disagree; tests/mock_server/test_compiled_path.py runs
both on a generated corpus and demands identical answers.

Hooked in as the first middleware of connexion's own list (`MiddlewarePosition.BEFORE_EXCEPTION`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from billing_contract.spec import Operation, Spec
from mock_server.connexion_fastpath import (
    ArgumentPlan,
    CachingURIParser,
    inspect_function_arguments,
    unwrap_decorators,
)
from mock_server.errors import ApiProblem
from mock_server.security import BEARER_SCHEME, Credentials, same_secret
from mock_server.validation import MAX_QUERY_FIELDS, compile_parameters, count_query_fields, find_errors

Handler = Callable[..., Any]
# Headers that make an answer depend on more than the plan knows: a body, or a chosen answer.
_DECLINED_HEADERS = (b"prefer", b"transfer-encoding")


class OperationPlan:
    """One operation, compiled: credentials expected, parameters to validate, arguments to build."""

    def __init__(self, spec: Spec, operation: Operation, handler: Handler, credentials: Credentials) -> None:
        parameters = spec.parameters(operation.operation_id)
        self.handler = handler
        self.parameters = compile_parameters(parameters)
        self.query = QueryReader(CachingURIParser(parameters, {}))
        arguments, _ = inspect_function_arguments(unwrap_decorators(handler))  # as connexion reads them
        self.arguments = ArgumentPlan(parameters, arguments)
        self.credentials = _expected_credentials(spec, operation, credentials)
        self.answered = 0  # requests this plan answered itself (the rest went to connexion)

    def authenticated(self, headers: dict[bytes, bytes]) -> bool:
        """Every credential the requirement names, exactly as configured, compared as the security handlers
        compare them (`same_secret`, constant time); any other form is connexion's to judge."""
        for name, prefix, expected in self.credentials:
            value = headers.get(name)
            if value is None:
                return False
            text = value.decode("latin-1")
            if not (text.startswith(prefix) and same_secret(text[len(prefix) :], expected)):
                return False
        return True

    async def answer(self, scope: Scope, path_params: dict[str, str]) -> Any | None:
        """The handler's response, or None when connexion must decide (an invalid parameter, a refusal)."""
        request = PlannedRequest.read(scope, path_params, self.query)
        if find_errors(self.parameters, request):  # type: ignore[arg-type]
            return None
        try:
            response = await self.handler(**self.arguments.request_arguments(request))  # type: ignore[arg-type]
        except ApiProblem:  # the handler refuses (a page past the end, a forged cursor): connexion renders it
            return None
        self.answered += 1
        return response


def _expected_credentials(
    spec: Spec, operation: Operation, credentials: Credentials
) -> tuple[tuple[bytes, str, str], ...]:
    """(header, the prefix its value starts with, the secret after it) for each scheme required."""
    schemes = spec.document.get("components", {}).get("securitySchemes", {})
    requirement = (operation.raw.get("security") or spec.document.get("security") or [{}])[0]
    expected: list[tuple[bytes, str, str]] = []
    for name in requirement:
        scheme = schemes[name]
        if scheme.get("type") == "http" and str(scheme.get("scheme", "")).lower() == "bearer":
            expected.append((b"authorization", f"{BEARER_SCHEME} ", credentials.bearer_token))
        elif scheme.get("type") == "apiKey" and scheme.get("in") == "header":
            value = credentials.expected_api_key(scheme["name"])
            expected.append((scheme["name"].lower().encode("latin-1"), "", value or "\x00never"))
        else:  # a scheme the plan does not know: connexion decides every request of this operation
            expected.append((b"", "", "\x00never"))
    return tuple(expected)


@dataclass(frozen=True)
class PlannedRequest:
    """What the validator and the argument plan read of a request, resolved as connexion resolves it
    (its URI parser over the query string as starlette splits it) without building connexion's and
    starlette's request objects."""

    scope: Scope
    query_params: dict[str, Any]
    path_params: dict[str, Any]
    headers: Headers

    @classmethod
    def read(cls, scope: Scope, path_params: dict[str, str], query: QueryReader) -> PlannedRequest:
        resolved = query.read(scope.get("query_string", b""))
        return cls(scope, resolved, query.parser.resolve_path(path_params), Headers(scope=scope))


# connexion's casts for a query parameter of each primitive type (its `coerce_type`); a value that does
# not cast stays the string it was, for the validator to refuse.
_CASTS: dict[str | None, Callable[[str], Any] | None] = {"integer": int, "number": float, "string": None, None: None}


class QueryReader:
    """A query string resolved as connexion's URI parser resolves it (the last of repeated values, cast per
    the parameter's type; unknown names kept as lists). For an operation whose query parameters are all
    strings and numbers (the contract's) that is done here directly; anything else (arrays, objects,
    booleans, nullable values, bracketed names) goes through connexion's parser itself."""

    def __init__(self, parser: CachingURIParser) -> None:
        self.parser = parser
        casts: dict[str, Callable[[str], Any] | None] = {}
        for name, definition in parser.param_defns.items():
            schema = definition.get("schema", {})
            kind = schema.get("type")
            if kind not in _CASTS or schema.get("nullable") or definition.get("style") == "deepObject":
                self.casts = None
                return
            casts[name] = _CASTS[kind]
        self.casts: dict[str, Callable[[str], Any] | None] | None = casts

    def read(self, query_string: bytes) -> dict[str, Any]:
        grouped: dict[str, list[str]] = {}
        for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
            grouped.setdefault(name, []).append(value)
        casts = self.casts
        if casts is None or any("[" in name for name in grouped):
            return self.parser.resolve_query(grouped)
        resolved: dict[str, Any] = {}
        for name, values in grouped.items():
            if name not in casts:
                resolved[name] = values
                continue
            cast = casts[name]
            resolved[name] = values[-1] if cast is None else _cast(cast, values[-1])
        return resolved


def _cast(cast: Callable[[str], Any], value: str) -> Any:
    try:
        return cast(value)
    except ValueError:
        return value


class CompiledPath:
    """Connexion middleware: answers from the plans what it can vouch for, hands the rest on."""

    def __init__(self, next_app: ASGIApp, plans: dict[str, OperationPlan], spec: Spec) -> None:
        self.next_app = next_app
        self.plans = plans  # a dataset swap replaces the handlers' data, not the handlers: plans stay valid
        self.spec = spec

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and await self._answered(scope, receive, send):
            return
        await self.next_app(scope, receive, send)

    async def _answered(self, scope: Scope, receive: Receive, send: Send) -> bool:
        matched = self.spec.match(scope["method"], scope["path"])
        if matched is None:
            return False
        headers = _single_headers(scope)
        if headers is None or any(name in headers for name in _DECLINED_HEADERS):
            return False
        if headers.get(b"content-length", b"0") != b"0":
            return False
        if count_query_fields(scope.get("query_string", b"")) > MAX_QUERY_FIELDS:
            return False
        plan = self.plans.get(matched[0].operation_id)
        if plan is None or not plan.authenticated(headers):
            return False
        response = await plan.answer(scope, matched[1])
        if response is None:
            return False
        await response(scope, receive, send)
        return True


def _single_headers(scope: Scope) -> dict[bytes, bytes] | None:
    """The request's headers by name, or None when one is repeated (connexion has its own view of those)."""
    headers: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        if name in headers:
            return None
        headers[name] = value
    return headers
