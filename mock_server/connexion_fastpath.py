"""Connexion's per-request path, with the work that depends only on the spec done once per operation.

This module is where the mock reaches into connexion's per-request internals; everything here is fenced by
tests/mock_server/test_connexion_fastpath.py, which runs connexion's stock path beside this one and
demands the same handler arguments, and by tests/package/test_private_names.py, which checks that every
private symbol listed in `PRIVATE_CONNEXION_SYMBOLS` still exists (connexion is pinned <3.4; an upgrade fails
there first, naming the symbol and the installed version).

**Why it is kept** (measured 2026-11-29 with `bench/instructions.py --fastpath on|off`, bench/README.md): the
compiled path (mock_server/compiled.py) answers every valid request itself, so connexion's path, and this
module, serve only the requests it hands on. Among those, refused credentials and invalid parameters never
reach a handler and gain nothing (within 1 %); every request that reaches one costs 28-34 % fewer
instructions with this module (a page past the end, a forged cursor, an unknown id: 2.14M -> 1.41M on
Mifumo's), and a valid request on connexion's path (`--rate-limit`, `--error-rate`, a `Prefer` header)
44-47 % fewer (1.49M -> 0.81M on Mifumo's page 1).

**Operations.** Connexion's async operation, with the per-request work that depends only on the spec done once.

In connexion 3.3 every request rebuilds the operation's decorator chain twice over: `AsyncOperation.fn`
is a property that builds a `StarletteDecorator`, and that decorator's wrapper calls `decorate()`
(with `inspect.signature` of the handler) again per request. py-spy put this at about a fifth of the
mock's CPU under load. The chain holds no per-request state — the request, its scope and the URI
parser come from connexion's context variables at call time — so here it is built once per operation.
`AsyncASGIApp.api_cls` is the hook connexion offers for swapping the operation class.

For an operation without a request body (all of the contract's), the parameter decorator is replaced
by `PlannedParameterDecorator`, which does what connexion's does — the handler gets the path and query
parameters, cast per their schemas, with the spec's defaults — from a plan of the operation made once:
parameter definitions, defaults, argument names and the URI parser, which connexion's recomputes from the
spec on every request. It also reuses the query the request validator parsed (below), and
never reads a body the operation does not define: connexion's would parse a multipart body on a GET and
hand an uploaded file to the handler in place of a validated parameter of the same name.

**Query.** The request's query, resolved against the operation's parameters once per request.

Connexion resolves the query string (repeated keys, arrays, deep objects, type coercion) in the
request validator and again in the parameter decorator, each through its own URI parser for the same
operation. The first to ask stores the result in the ASGI scope; the other reuses it when its parser
has the same parameter definitions.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from copy import deepcopy
from typing import Any

from connexion.apps.asynchronous import AsyncApi, AsyncASGIApp, AsyncOperation
from connexion.context import context, receive, scope
from connexion.decorators import StarletteDecorator
from connexion.decorators.parameter import (
    CONTEXT_NAME,
    AsyncParameterDecorator,
    _get_query_defaults,
    _get_val_from_param,
    sanitized,
    unwrap_decorators,
)
from connexion.lifecycle import ConnexionRequest
from connexion.operations import AbstractOperation
from connexion.uri_parsing import OpenAPIURIParser
from connexion.utils import deep_merge, inspect_function_arguments
from starlette.types import Scope

# What this module relies on that connexion does not document as public: (module, attribute). Each is checked
# by tests/package/test_private_names.py (an upgrade that moves one fails there, naming it and the version);
# what they do is checked against connexion's own path by tests/mock_server/test_connexion_fastpath.py.
PRIVATE_CONNEXION_SYMBOLS: tuple[tuple[str, str], ...] = (
    ("connexion.decorators.parameter", "_get_query_defaults"),  # the spec's query defaults
    ("connexion.decorators.parameter", "_get_val_from_param"),  # a value cast per its schema
    ("connexion.apps.asynchronous", "AsyncASGIApp.api_cls"),  # the hook swapping the operation class
    ("connexion.apps.asynchronous", "AsyncOperation.fn"),  # the property rebuilt per request
    ("connexion.apps.asynchronous", "AsyncOperation._fn"),  # an instance attribute: the resolved handler
    ("connexion.decorators", "StarletteDecorator._parameter_decorator_cls"),
    ("connexion.uri_parsing", "OpenAPIURIParser.param_schemas"),
    ("connexion.uri_parsing", "OpenAPIURIParser.param_defns"),
    ("connexion.lifecycle", "ConnexionRequest._query_params"),  # an instance attribute: the parsed query
    ("connexion.context", "scope._get_current_object"),  # werkzeug's LocalProxy: the request's own scope
)


_QUERY_SCOPE_KEY = "billing_mock.query"


class CachingURIParser(OpenAPIURIParser):
    """Connexion's OpenAPI URI parser, with the schema map built once: connexion's rebuilds it from the
    parameter definitions for every query key of every request."""

    @functools.cached_property
    def param_schemas(self) -> dict[str, Any]:  # type: ignore[override]
        return {name: definition.get("schema", {}) for name, definition in self.param_defns.items()}


class SharedQueryRequest(ConnexionRequest):
    """Connexion's request whose `query_params` are resolved at most once per request and parser.

    The dict is shared: callers read it and never mutate it (connexion's validator and decorator don't).
    """

    @property
    def query_params(self) -> dict[str, Any]:
        if self._query_params is None:
            extensions = self.scope.setdefault("extensions", {})
            definitions = self.uri_parser.param_defns
            shared = extensions.get(_QUERY_SCOPE_KEY)
            if shared is not None and (shared[0] is definitions or shared[0] == definitions):
                self._query_params = shared[1]
            else:
                self._query_params = ConnexionRequest.query_params.fget(self)
                extensions[_QUERY_SCOPE_KEY] = (definitions, self._query_params)
        return self._query_params


def resolved_query(scope: Scope) -> Mapping[str, Any] | None:
    """The query connexion resolved (names decoded, repeated keys merged) for this request, if any was."""
    shared = scope.get("extensions", {}).get(_QUERY_SCOPE_KEY)
    return None if shared is None else shared[1]


# A handler that declares this argument gets the request's ASGI scope (headers, Host, query string), so it
# never reads connexion's context variables. No parameter of the contract has this name.
SCOPE_ARGUMENT = "request_scope"


class ArgumentPlan:
    """What connexion's parameter decorator derives from the spec for one operation (its resolved
    parameter definitions) and one handler (the names of its arguments)."""

    def __init__(self, parameters: list[dict[str, Any]], arguments: list[str]) -> None:
        self.arguments = frozenset(arguments)
        self.path = {p["name"]: (sanitized(p["name"]), p) for p in parameters if p["in"] == "path"}
        query = {p["name"]: p for p in parameters if p["in"] == "query"}
        self.defaults = _get_query_defaults(query)
        # Connexion passes a query parameter when its sanitized name is one of the handler's arguments.
        self.query = {name: (sanitized(name), p) for name, p in query.items() if sanitized(name) in self.arguments}
        # With no object-valued default, connexion's deepcopy-and-deep_merge is a plain dict update.
        self.flat_defaults = not any(isinstance(value, dict) for value in self.defaults.values())
        self.wants_context = CONTEXT_NAME in self.arguments
        self.wants_scope = SCOPE_ARGUMENT in self.arguments

    @staticmethod
    def applies_to(operation: AbstractOperation, has_kwargs: bool) -> bool:
        return not operation.is_request_body_defined and not has_kwargs

    def kwargs(self, request: ConnexionRequest) -> dict[str, Any]:
        """The handler's arguments inside connexion: the request's, then what security put in the context."""
        kwargs = self.request_arguments(request)
        for key, value in context.items():
            if key in self.arguments:
                kwargs[key] = value
        if self.wants_context:
            kwargs[CONTEXT_NAME] = context
        return kwargs

    def request_arguments(self, request: ConnexionRequest) -> dict[str, Any]:
        """Path and query parameters cast per their schemas, the spec's defaults, and the scope if asked."""
        kwargs: dict[str, Any] = {SCOPE_ARGUMENT: request.scope} if self.wants_scope else {}
        for name, value in request.path_params.items():
            known = self.path.get(name)
            if known is None:  # a path parameter the spec does not define (connexion's injection mechanism)
                kwargs[sanitized(name)] = value
            else:
                kwargs[known[0]] = _get_val_from_param(value, known[1])
        query: Mapping[str, Any] = request.query_params
        merged = {**self.defaults, **query} if self.flat_defaults else deep_merge(deepcopy(self.defaults), query)
        for name, value in merged.items():
            known = self.query.get(name)
            if known is not None:
                kwargs[known[0]] = _get_val_from_param(value, known[1])
        return kwargs


class PlannedParameterDecorator(AsyncParameterDecorator):
    def __init__(self, *, operation: AbstractOperation, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.operation = operation
        self.plan: ArgumentPlan | None = None

    def __call__(self, function: Callable[..., Any]) -> Callable[..., Any]:
        arguments, has_kwargs = inspect_function_arguments(unwrap_decorators(function))
        if self.sanitize_fn is not sanitized or not ArgumentPlan.applies_to(self.operation, has_kwargs):
            return super().__call__(function)
        self.plan = plan = ArgumentPlan(self.operation.parameters, arguments)

        @functools.wraps(function)
        async def wrapper(request: ConnexionRequest) -> Any:
            return await function(**plan.kwargs(request))

        return wrapper


class PrebuiltStarletteDecorator(StarletteDecorator):
    def __init__(self, *, operation: AbstractOperation, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.operation = operation

    @property
    def _parameter_decorator_cls(self) -> Callable[..., AsyncParameterDecorator]:  # type: ignore[override]
        return functools.partial(PlannedParameterDecorator, operation=self.operation)

    def __call__(self, function: Callable[..., Any]) -> Callable[..., Any]:
        decorated = self.decorate(function)
        uri_parser = self.operation.uri_parser_class(self.operation.parameters, self.operation.body_definition())

        @functools.wraps(function)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            request = SharedQueryRequest(scope._get_current_object(), receive, uri_parser=uri_parser)
            return await decorated(request)

        return wrapper


class PrebuiltAsyncOperation(AsyncOperation):
    spec_operation: AbstractOperation

    @functools.cached_property
    def fn(self) -> Callable[..., Any]:  # type: ignore[override]
        decorator = PrebuiltStarletteDecorator(
            operation=self.spec_operation, pythonic_params=self.pythonic_params, jsonifier=self.jsonifier
        )
        return decorator(self._fn)


class PrebuiltAsyncApi(AsyncApi):
    def make_operation(self, operation: AbstractOperation) -> AsyncOperation:
        built = PrebuiltAsyncOperation.from_operation(
            operation, pythonic_params=self.pythonic_params, jsonifier=self.jsonifier
        )
        built.spec_operation = operation
        return built


def use_prebuilt_operations(asgi_app: AsyncASGIApp) -> None:
    asgi_app.api_cls = PrebuiltAsyncApi
