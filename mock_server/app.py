"""Build the mock: a connexion `AsyncApp` over the contract, wrapped with the tooling routes.

create_app(MockConfig(seed=7)) -> MockApp   # an ASGI app; `.state` exposes data and credentials
"""

from __future__ import annotations

import functools
import os
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from connexion import AsyncApp
from connexion.exceptions import ProblemException
from connexion.options import SwaggerUIOptions
from connexion.resolver import Resolver
from starlette.exceptions import HTTPException
from starlette.types import Message, Receive, Scope, Send

from fixtures import Dataset, generate_dataset, load_dataset
from mock_server.config import MockConfig
from mock_server.errors import ErrorRenderer
from mock_server.handlers import Handlers
from mock_server.pagination import CursorCodec
from mock_server.problems import ApiProblem
from mock_server.security import Credentials, security_map
from mock_server.spec import Spec
from mock_server.store import ServingData
from mock_server.validation import CollectingParameterValidator

TOOLING_PREFIX = "/__mock"
CORRELATION_HEADER = "X-Correlation-Id"


@dataclass
class MockState:
    config: MockConfig
    spec: Spec
    data: ServingData
    credentials: Credentials

    def summary(self) -> dict[str, Any]:
        dataset = self.data.dataset
        owners = {s["owner"]["id"] if s["owner"] else None for s in dataset.statements}
        return {
            "seed": dataset.seed,
            "source": dataset.source,
            "fingerprint": self.data.fingerprint,
            "mifumo": {"records": len(dataset.records)},
            "wepay": {"statements": len(dataset.statements), "accounts": len(owners)},
        }


def build_dataset(config: MockConfig, spec: Spec) -> Dataset:
    if config.fixtures_path is not None:
        return load_dataset(config.fixtures_path, spec)
    return generate_dataset(config.seed, config.size, spec)


LIST_STATEMENTS = "listBillingStatements"
CURSOR_PARAM = "page"


def _query_parameter(spec: Spec, operation_id: str, name: str) -> dict[str, Any]:
    return next(p for p in spec.parameters(operation_id) if p["in"] == "query" and p["name"] == name)


def serving_data(dataset: Dataset, spec: Spec) -> ServingData:
    return ServingData(
        dataset,
        types=spec.schema("BillingRecordType")["enum"],
        versions=spec.schema("ApiVersion")["enum"],
        currencies=_query_parameter(spec, LIST_STATEMENTS, "currency")["schema"]["enum"],
    )


def _cursor_excludes(spec: Spec) -> tuple[str, ...]:
    """The query parameters a cursor already carries, so that may not be sent beside it."""
    names = (p["name"] for p in spec.parameters(LIST_STATEMENTS) if p["in"] == "query")
    return tuple(name for name in names if name != CURSOR_PARAM)


def create_app(config: MockConfig | None = None, dataset: Dataset | None = None) -> MockApp:
    config = config or MockConfig()
    spec = Spec.load(config.spec_path)
    data = serving_data(dataset or build_dataset(config, spec), spec)
    state = MockState(config, spec, data, config.credentials)
    handlers = Handlers(
        data,
        CursorCodec.for_dataset(data.dataset.seed, data.fingerprint),
        collection_path=spec.operations[LIST_STATEMENTS].path,
        cursor_param=CURSOR_PARAM,
        cursor_excludes=_cursor_excludes(spec),
    )
    renderer = ErrorRenderer(spec)
    app = AsyncApp(
        __name__,
        security_map=security_map(config.credentials),
        validator_map={"parameter": CollectingParameterValidator},
        swagger_ui_options=SwaggerUIOptions(swagger_ui_path="/docs", spec_path="/openapi.json"),
    )
    app.add_api(
        spec.document,
        resolver=Resolver(function_resolver=handlers.resolve),
        validate_responses=False,
        strict_validation=False,
        pythonic_params=False,
    )
    for exc_class in (ApiProblem, ProblemException, HTTPException, Exception):
        app.add_error_handler(exc_class, renderer)
    for status in (404, 405):
        app.add_error_handler(status, renderer)
    return MockApp(app, state, renderer)


class MockApp:
    """The ASGI app: tooling under `/__mock/`, the contract everywhere else.

    WePay's `X-Correlation-Id` is stamped here, outside connexion, so every answer on a path of an
    API whose responses declare it carries one — errors, 404s and 405s included.
    """

    def __init__(self, connexion_app: AsyncApp, state: MockState, renderer: ErrorRenderer) -> None:
        self.connexion_app = connexion_app
        self.state = state
        self.renderer = renderer
        self._correlated_tags = frozenset(
            op.tag
            for op in state.spec.operations.values()
            if any(
                CORRELATION_HEADER in (r.get("headers") or {}) for r in state.spec.resolve(op.raw["responses"]).values()
            )
        )

    @functools.lru_cache(maxsize=1024)  # noqa: B019 - one app per process, bounded
    def _needs_correlation(self, path: str) -> bool:
        return self.state.spec.tag_of_path(path) in self._correlated_tags

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.connexion_app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(TOOLING_PREFIX + "/"):
            await self._tooling(scope, receive, send)
            return
        if not self._needs_correlation(path):
            await self.connexion_app(scope, receive, send)
            return

        async def send_with_correlation(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"x-correlation-id" for name, _ in headers):
                    headers.append((b"x-correlation-id", str(uuid.uuid4()).encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.connexion_app(scope, receive, send_with_correlation)

    async def _tooling(self, scope: Scope, receive: Receive, send: Send) -> None:
        routes = {"/health": lambda: {"status": "ok", "pid": os.getpid()}, "/dataset": self.state.summary}
        route = routes.get(scope["path"][len(TOOLING_PREFIX) :])
        if route is None or scope["method"] not in ("GET", "HEAD"):
            status, body = (
                (404, {"detail": "Not found."}) if route is None else (405, {"detail": "Method not allowed."})
            )
        else:
            status, body = 200, route()
        payload = orjson.dumps(body)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else payload})
