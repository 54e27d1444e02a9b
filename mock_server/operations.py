"""Connexion's async operation, with its handler decorated once instead of on every request.

In connexion 3.3 every request rebuilds the operation's decorator chain twice over: `AsyncOperation.fn`
is a property that builds a `StarletteDecorator`, and that decorator's wrapper calls `decorate()`
(with `inspect.signature` of the handler) again per request. py-spy put this at about a fifth of the
mock's CPU under load. The chain holds no per-request state — the request, its scope and the URI
parser come from connexion's context variables at call time — so here it is built once per operation.
`AsyncASGIApp.api_cls` is the hook connexion offers for swapping the operation class.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from connexion.apps.asynchronous import AsyncApi, AsyncASGIApp, AsyncOperation
from connexion.context import receive, scope
from connexion.decorators import StarletteDecorator
from connexion.operations import AbstractOperation


class PrebuiltStarletteDecorator(StarletteDecorator):
    def __call__(self, function: Callable[..., Any]) -> Callable[..., Any]:
        decorated = self.decorate(function)

        @functools.wraps(function)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            request = self.framework.get_request(uri_parser=self.uri_parser, scope=scope, receive=receive)
            return await decorated(request)

        return wrapper


class PrebuiltAsyncOperation(AsyncOperation):
    @functools.cached_property
    def fn(self) -> Callable[..., Any]:  # type: ignore[override]
        return PrebuiltStarletteDecorator(pythonic_params=self.pythonic_params, jsonifier=self.jsonifier)(self._fn)


class PrebuiltAsyncApi(AsyncApi):
    def make_operation(self, operation: AbstractOperation) -> AsyncOperation:
        return PrebuiltAsyncOperation.from_operation(
            operation, pythonic_params=self.pythonic_params, jsonifier=self.jsonifier
        )


def use_prebuilt_operations(asgi_app: AsyncASGIApp) -> None:
    asgi_app.api_cls = PrebuiltAsyncApi
