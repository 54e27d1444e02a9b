"""The request's query, resolved against the operation's parameters once per request.

Connexion resolves the query string (repeated keys, arrays, deep objects, type coercion) in the
request validator and again in the parameter decorator, each through its own URI parser for the same
operation. The first to ask stores the result in the ASGI scope; the other reuses it when its parser
has the same parameter definitions.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from connexion.lifecycle import ConnexionRequest
from connexion.uri_parsing import OpenAPIURIParser
from starlette.types import Scope

_SCOPE_KEY = "billing_mock.query"


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
            shared = extensions.get(_SCOPE_KEY)
            if shared is not None and (shared[0] is definitions or shared[0] == definitions):
                self._query_params = shared[1]
            else:
                self._query_params = ConnexionRequest.query_params.fget(self)
                extensions[_SCOPE_KEY] = (definitions, self._query_params)
        return self._query_params


def resolved_query(scope: Scope) -> Mapping[str, Any] | None:
    """The query connexion resolved (names decoded, repeated keys merged) for this request, if any was."""
    shared = scope.get("extensions", {}).get(_SCOPE_KEY)
    return None if shared is None else shared[1]
