"""The planned parameter decorator (mock_server.connexion_fastpath) hands every handler exactly the arguments
connexion's own decorator would, for the contract's operations and a spread of query strings: the differential
test behind the private connexion names it relies on (their presence: tests/package/test_private_names.py)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any

import pytest
from connexion.context import _context, _operation
from connexion.decorators.parameter import AsyncParameterDecorator
from connexion.frameworks.starlette import Starlette as StarletteFramework
from connexion.lifecycle import ConnexionRequest
from starlette.testclient import TestClient

from mock_server import MockConfig, create_app
from mock_server.connexion_fastpath import (
    SCOPE_ARGUMENT,
    PlannedParameterDecorator,
    SharedQueryRequest,
)

QUERIES = [
    "",
    "page=2",
    "page=3&page_size=5&type=usage",
    "type=usage&type=payment",
    "page=1&page=4",
    "unknown=1&page_size=7",
    "page_size=&type=",
    "page=%32&type=us%61ge",
    "account_id=acct_1&currency=EUR&page_size=50",
    "page=not-a-number",
    "page_size=10&page_size=20",
    "currency=USD&currency=CAD",
]
OPERATIONS = {
    "getBillingHistory": ("/api/billing/history/", {}),
    "listBillingStatements": ("/billing_statements", {}),
    "getBillingStatement": ("/billing_statements/stmt_1", {"id": "stmt_1"}),
}


@pytest.fixture(scope="module")
def operations() -> dict[str, Any]:
    app = create_app(MockConfig())
    asgi_app = app.connexion_app.middleware.app  # the app connexion wraps: its middleware replaces it at start-up
    with TestClient(app):  # connexion builds its operations at start-up
        (api,) = asgi_app.apis[""]
    return api.operations


def _capturing(handler: Callable[..., Any], calls: list[dict[str, Any]]) -> Callable[..., Any]:
    @functools.wraps(handler)  # both decorators read the handler's signature through __wrapped__
    async def capture(**kwargs: Any) -> None:
        calls.append(kwargs)

    return capture


def _outcome(decorated: Callable[..., Any], request: ConnexionRequest, calls: list[dict[str, Any]]) -> object:
    try:
        asyncio.run(decorated(request))
    except Exception as exc:  # both decorators must fail alike
        return ("raised", type(exc).__name__, str(exc))
    return calls.pop()


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("operation_id", OPERATIONS)
def test_planned_arguments_equal_connexions(operations: dict[str, Any], operation_id: str, query: str) -> None:
    built = operations[operation_id]
    spec_operation = built.spec_operation
    path, path_params = OPERATIONS[operation_id]
    scope = {
        "type": "http", "method": "GET", "path": path, "query_string": query.encode(), "headers": [],
        "path_params": path_params,
    }  # fmt: skip

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    def uri_parser() -> Any:
        return spec_operation.uri_parser_class(spec_operation.parameters, spec_operation.body_definition())

    calls: list[dict[str, Any]] = []
    stock = AsyncParameterDecorator(framework=StarletteFramework)(_capturing(built._fn, calls))
    planned_decorator = PlannedParameterDecorator(operation=spec_operation, framework=StarletteFramework)
    planned = planned_decorator(_capturing(built._fn, calls))
    assert planned_decorator.plan is not None  # the contract's operations all take the planned path

    operation_token, context_token = _operation.set(spec_operation), _context.set({})
    try:
        expected = _outcome(stock, ConnexionRequest(dict(scope), receive, uri_parser=uri_parser()), calls)
        got = _outcome(planned, SharedQueryRequest(dict(scope), receive, uri_parser=uri_parser()), calls)
    finally:
        _operation.reset(operation_token)
        _context.reset(context_token)
    # The plan also hands the handler the request's scope (connexion's own decorator has no such thing).
    if isinstance(got, dict):
        assert got.pop(SCOPE_ARGUMENT)["path"] == path
    assert got == expected
