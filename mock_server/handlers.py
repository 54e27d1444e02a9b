"""The contract's operations, bound by operationId. By the time a handler runs the request has been
authenticated and every parameter validated against the spec (by connexion, or by the compiled path,
which hands over only requests connexion would also let through); handlers only paginate, filter and
refuse what no schema can express (a page past the end, a forged cursor, an unknown id). Each gets the
request's ASGI scope as an argument (`request_scope`) for the headers and Host its answer depends on."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.datastructures import URL
from starlette.responses import Response
from starlette.types import Scope

from billing_contract.drf import drf_page_number, drf_page_size, page_count
from mock_server.connexion_fastpath import resolved_query
from mock_server.cursors import CursorState, InvalidCursor
from mock_server.errors import ApiProblem, FieldError, Kind, Reason
from mock_server.serving import ServingState
from mock_server.windows import Window, page_link, page_number_window

JSON = "application/json"
_NULL = b"null"


def _json_str(text: str | None) -> bytes:
    return _NULL if text is None else orjson.dumps(text)


def _header(scope: Scope, name: bytes) -> str:
    return next(value.decode("latin-1") for key, value in scope["headers"] if key == name)


def _host(scope: Scope) -> bytes | None:
    return next((value for key, value in scope["headers"] if key == b"host"), None)


@functools.lru_cache(maxsize=1024)
def _link_base(scheme: str, server: tuple[str, int] | None, path: str, host: bytes | None) -> str:
    """`scheme://host/path` of the request as starlette reads it (Host header, else the server address):
    the same for every request to a path, so worked out once per host, not per request."""
    headers = [] if host is None else [(b"host", host)]
    url = URL(scope={"scheme": scheme, "server": server, "path": path, "query_string": b"", "headers": headers})
    return f"{url.scheme}://{url.netloc}{url.path}"


def _snake(operation_id: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation_id).lower()


def _query(scope: Scope) -> Mapping[str, Any]:
    """The query as validated; parsed here only if connexion's validator has not already."""
    resolved = resolved_query(scope)
    if resolved is None:
        return dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
    return resolved


class Handlers:
    """Operation handlers over one dataset; `resolve` maps an operationId to its bound method."""

    def __init__(
        self,
        serving: ServingState,
        collection_path: str,
        cursor_param: str,
        cursor_excludes: tuple[str, ...],
        list_defaults: tuple[int, str],
        history_page_size: tuple[int, int],
        history_metadata: Any,
    ) -> None:
        self.serving = serving  # the dataset and the cursor codec, read per request (a swap replaces them)
        # The statement list's page size and currency when absent: the spec's `x-server-default`s, not
        # schema defaults (connexion would fill those in, and generated clients would send them).
        self.default_page_size, self.default_currency = list_defaults
        # The history's page size when absent or unusable, and the most a page holds (DRF's max_page_size).
        self.history_page_size, self.history_max_page_size = history_page_size
        self.history_metadata = orjson.dumps(history_metadata)  # DRF's OPTIONS answer, as the spec shows it
        self.collection_path = collection_path
        self.cursor_param = cursor_param
        self.cursor_excludes = cursor_excludes

    def resolve(self, operation_id: str) -> Callable[..., Any]:
        """The handler of an operation: the method named after its operationId (`getBillingHistory` is
        `get_billing_history`), so the list of operations is the spec's, not a second one kept here."""
        handler = getattr(self, _snake(operation_id), None)
        if handler is None or operation_id.startswith("_"):
            raise ValueError(f"no handler for operationId {operation_id!r}")
        return handler

    # -- Mifumo -----------------------------------------------------------------------------------

    async def get_billing_history(
        self, request_scope: Scope, page: int | str = 1, page_size: int | str | None = None, type: str | None = None
    ) -> Response:
        """`page` and `page_size` arrive as sent (the contract accepts any text): read as DRF reads them."""
        view = self.serving.data.history.view(type or None)  # django-filter: an empty choice filters nothing
        size = drf_page_size(page_size, self.history_page_size, self.history_max_page_size)
        number = drf_page_number(page, page_count(len(view), size))
        window = None if number is None else page_number_window(number, size, len(view))
        if number is None or window is None:
            raise ApiProblem(Kind.INVALID_REQUEST, (FieldError("query", "page", Reason.PAST_LAST_PAGE, page),))
        page = number
        scope = request_scope
        server = scope.get("server")
        base = _link_base(scope["scheme"], server and tuple(server), scope["path"], _host(scope))
        query = scope["query_string"].decode().partition("#")[0]  # as starlette's URL.query reads it
        next_link = page_link(base, query, "page", page + 1) if window.has_next else None
        previous_link = page_link(base, query, "page", page - 1) if window.has_previous else None
        body = b"".join(
            (
                b'{"count":%d,"next":' % window.total,
                _json_str(next_link),
                b',"previous":',
                _json_str(previous_link),
                b',"results":[',
                b",".join(view[window.offset : window.end]),
                b"]}",
            )
        )
        return Response(body, media_type=JSON)

    async def describe_billing_history(self, request_scope: Scope) -> Response:
        return Response(self.history_metadata, media_type=JSON)

    # -- WePay ------------------------------------------------------------------------------------

    async def list_billing_statements(
        self,
        request_scope: Scope,
        page: str | None = None,
        page_size: int | None = None,
        account_id: str | None = None,
        currency: str | None = None,
    ):
        scope = request_scope
        version = _header(scope, b"api-version")
        if page is not None:
            state = self._cursor_state(scope, page)
        else:
            size = self.default_page_size if page_size is None else page_size
            currency = currency or self.default_currency
            state = CursorState(0, size, (("account_id", account_id or ""), ("currency", currency)))
        filters = dict(state.filters)
        view = self.serving.data.statements.view(
            filters.get("account_id") or None, filters.get("currency", self.default_currency)
        )
        window = Window(state.offset, state.page_size, len(view))
        next_link = self._cursor_link(state, window.offset + window.limit) if window.has_next else None
        previous_link = self._cursor_link(state, max(0, window.offset - window.limit)) if window.has_previous else None
        version_bytes = version.encode()
        body = b"".join(
            (
                b'{"next":',
                _json_str(next_link),
                b',"previous":',
                _json_str(previous_link),
                b',"results":[',
                b",".join(item[version] for item in view[window.offset : window.end]),
                b'],"api_version":"',
                version_bytes,
                b'"}',
            )
        )
        return Response(body, media_type=JSON)

    def _cursor_state(self, scope: Scope, token: str) -> CursorState:
        given = _query(scope)
        conflicts = tuple(
            FieldError("query", name, Reason.NOT_ALLOWED_WITH_CURSOR, given[name])
            for name in self.cursor_excludes
            if name in given
        )
        if conflicts:
            raise ApiProblem(Kind.INVALID_REQUEST, conflicts)
        try:
            return self.serving.codec.decode(token)
        except InvalidCursor:
            raise ApiProblem(
                Kind.INVALID_REQUEST, (FieldError("query", self.cursor_param, Reason.INVALID_CURSOR, token),)
            ) from None

    def _cursor_link(self, state: CursorState, offset: int) -> str:
        token = self.serving.codec.encode(CursorState(offset, state.page_size, state.filters))
        return f"{self.collection_path}?{self.cursor_param}={token}"

    async def get_billing_statement(self, request_scope: Scope, id: str) -> Response:
        encoded = self.serving.data.statements.by_id.get(id)
        if encoded is None:
            raise ApiProblem(Kind.NOT_FOUND, resource_param="id", detail=id)
        return Response(encoded[_header(request_scope, b"api-version")], media_type=JSON)
