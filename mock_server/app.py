"""Build the mock: a connexion `AsyncApp` over the contract, wrapped with the tooling routes.

create_app(MockConfig(seed=7)) -> MockApp   # an ASGI app; `.state` exposes data and credentials
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from connexion import AsyncApp
from connexion.exceptions import ProblemException
from connexion.middleware import ConnexionMiddleware, MiddlewarePosition
from connexion.middleware.exceptions import ExceptionMiddleware
from connexion.middleware.response_validation import ResponseValidationMiddleware
from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from connexion.options import SwaggerUIOptions
from connexion.resolver import Resolver
from starlette.exceptions import HTTPException
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billing_contract.facts import CURSOR_PARAM, LIST_STATEMENTS
from billing_contract.spec import Spec
from fixtures import Dataset, generate_dataset, load_dataset
from mock_server.admin import LOG_SIZE, AdminApi, RequestLog
from mock_server.compiled import CompiledPath, OperationPlan
from mock_server.config import MockConfig
from mock_server.connexion_fastpath import CachingURIParser, use_prebuilt_operations
from mock_server.controls import (
    SCOPE_KEY,
    Controls,
    ControlsAfterValidation,
    PreferBeforeSecurity,
    Preference,
    PreferError,
    apply_fault,
    parse_prefer,
    preference_problem,
    send_response,
)
from mock_server.cors import cors, request_headers
from mock_server.documents import ServedDocuments
from mock_server.errors import ApiProblem, ErrorRenderer, Kind
from mock_server.handlers import Handlers
from mock_server.pagination import CursorCodec
from mock_server.replay import ReplayCache
from mock_server.security import Credentials, security_map
from mock_server.shared_state import REQUESTS_FILE, FileEntries, SharedDataset, shared_state_dir
from mock_server.store import ServingData
from mock_server.validation import CollectingParameterValidator

TOOLING_PREFIX = "/__mock"
NO_PREFERENCE = Preference()
DOCS_PATH = "/docs"  # Swagger UI on the contract
SPEC_PATH = "/openapi.json"  # the contract itself, as written ($refs kept; see mock_server.documents)
SPEC_YAML_PATH = "/openapi.yaml"  # the same, in YAML
# The contract's paths go through connexion without its Swagger UI router (a routing pass per request)
# or its response validator (off: the mock's answers are checked by the tests); the documents come from
# a second connexion app holding only those.
_UNUSED_ON_CONTRACT = (SwaggerUIMiddleware, ResponseValidationMiddleware)
CONTRACT_MIDDLEWARES = tuple(m for m in ConnexionMiddleware.default_middlewares if m not in _UNUSED_ON_CONTRACT)
DOCUMENT_MIDDLEWARES = (ServerErrorMiddleware, ExceptionMiddleware, SwaggerUIMiddleware)
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


def _auth_status(spec: Spec, renderer: ErrorRenderer) -> dict[str, int]:
    """The status each operation's security check answers (401 for Mifumo, 403 for WePay)."""
    return {
        op_id: renderer.envelope_for(op.path.split("{", 1)[0])[1].render(ApiProblem(Kind.UNAUTHENTICATED), "GET").status
        for op_id, op in spec.operations.items()
    }


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
        list_defaults=(
            int(spec.query_default(LIST_STATEMENTS, "page_size")),
            str(spec.query_default(LIST_STATEMENTS, "currency")),
        ),
    )
    renderer = ErrorRenderer(spec)
    controls = Controls(spec, config.controls)
    resolver = Resolver(function_resolver=handlers.resolve)
    app = AsyncApp(
        __name__,
        middlewares=list(CONTRACT_MIDDLEWARES),  # connexion inserts added middlewares into this list
        security_map=security_map(config.credentials),
        validator_map={"parameter": CollectingParameterValidator},
    )
    use_prebuilt_operations(app._middleware_app)  # connexion's hook; see mock_server.connexion_fastpath
    plans: dict[str, OperationPlan] = {}
    if config.compiled_path and not (config.controls.rate_limit or config.controls.error_rate):
        plans = {
            op_id: OperationPlan(spec, op, handlers.resolve(op_id), config.credentials)
            for op_id, op in spec.operations.items()
        }
        app.add_middleware(CompiledPath, position=MiddlewarePosition.BEFORE_EXCEPTION, plans=plans, spec=spec)
    app.add_middleware(
        PreferBeforeSecurity,
        position=MiddlewarePosition.BEFORE_SECURITY,
        controls=controls,
        auth_status=_auth_status(spec, renderer),
    )
    app.add_middleware(
        ControlsAfterValidation,
        position=MiddlewarePosition.BEFORE_CONTEXT,
        controls=controls,
        account_header=spec.facts.account_header,
    )
    app.add_api(
        spec.document,
        resolver=resolver,
        strict_validation=False,
        pythonic_params=False,
        uri_parser_class=CachingURIParser,
    )
    docs = AsyncApp(
        __name__,
        middlewares=list(DOCUMENT_MIDDLEWARES),
        # The page loads SPEC_PATH, which MockApp serves itself: connexion's copy of the spec has every $ref inlined.
        swagger_ui_options=SwaggerUIOptions(swagger_ui_path=DOCS_PATH, spec_path=SPEC_PATH, serve_spec=False),
    )
    docs.add_api(spec.document, resolver=resolver)
    for connexion_app in (app, docs):
        for exc_class in (ApiProblem, ProblemException, HTTPException, Exception):
            connexion_app.add_error_handler(exc_class, renderer)
        for status in (404, 405):
            connexion_app.add_error_handler(status, renderer)
    mock = MockApp(app, docs, state, renderer, handlers, controls)
    mock.compiled_plans = plans
    return mock


class MockApp:
    """The ASGI app: tooling under `/__mock/`, the contract everywhere else.

    Around the contract it stamps WePay's `X-Correlation-Id` (outside connexion, so every answer on a
    path of an API whose responses declare it carries one — errors, 404s and 405s included), reads the
    `Prefer` header, applies latency and faults, and logs what was received.
    """

    def __init__(
        self,
        connexion_app: AsyncApp,
        docs_app: AsyncApp,
        state: MockState,
        renderer: ErrorRenderer,
        handlers: Handlers,
        controls: Controls,
    ) -> None:
        self.connexion_app = connexion_app
        self.docs_app = docs_app
        self.state = state
        self.renderer = renderer
        self.handlers = handlers
        self.controls = controls
        # The compiled path's per-operation plans (empty when it is off); see mock_server.compiled.
        self.compiled_plans: dict[str, OperationPlan] = {}
        state_dir = shared_state_dir()  # set when this is one of several workers
        self.shared_dataset = SharedDataset(state_dir) if state_dir else None
        entries = FileEntries(state_dir / REQUESTS_FILE, LOG_SIZE) if state_dir else None
        self.request_log = RequestLog.for_spec(state.spec, entries)
        # Latency, injected errors and throttling make answers depend on more than the request.
        self.replay = ReplayCache(request_headers(state.spec)) if controls.settings.deterministic else None
        self.admin = AdminApi(self)
        self.documents = ServedDocuments(state.spec.document, SPEC_PATH, SPEC_YAML_PATH)
        self.asgi: ASGIApp = self._contract
        if state.config.cors_origins is not None:
            self.asgi = cors(self._contract, state.config.cors_origins, state.spec)
        self._correlated_tags = frozenset(
            op.tag
            for op in state.spec.operations.values()
            if any(
                CORRELATION_HEADER in (r.get("headers") or {}) for r in state.spec.resolve(op.raw["responses"]).values()
            )
        )

    def swap_dataset(self, dataset: Dataset) -> None:
        """Serve another dataset from the next request on; cursors of the old one stop being accepted."""
        data = serving_data(dataset, self.state.spec)
        self.handlers.codec = CursorCodec.for_dataset(dataset.seed, data.fingerprint)
        self.handlers.data = data
        self.state.data = data
        if self.replay is not None:
            self.replay.clear()

    @functools.lru_cache(maxsize=1024)  # noqa: B019 - one app per process, bounded
    def _needs_correlation(self, path: str) -> bool:
        return self.state.spec.tag_of_path(path) in self._correlated_tags

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.shared_dataset is not None and scope["type"] == "http":
            published = self.shared_dataset.changed(self.state.spec)  # another worker's admin change
            if published is not None:
                self.swap_dataset(published)
        await self.asgi(scope, receive, send)

    async def _contract(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.connexion_app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(TOOLING_PREFIX + "/"):
            await self.admin(scope, receive, send)
            return
        correlate = self._needs_correlation(path)
        status = 0  # stays 0 when a fault closes the connection without an answer
        started = self.request_log.clock()

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if correlate:
                    headers = list(message.get("headers", []))
                    if not any(name.lower() == b"x-correlation-id" for name, _ in headers):
                        headers.append((b"x-correlation-id", str(uuid.uuid4()).encode()))
                    message = {**message, "headers": headers}
            await send(message)

        try:
            if self.state.spec.documents_path(path):
                await self._controlled(self.connexion_app, scope, receive, observed_send)
            elif self.documents.serves(path):
                await self.documents(scope, receive, observed_send)
            elif path == DOCS_PATH or path.startswith(DOCS_PATH + "/"):
                await self._controlled(self.docs_app, scope, receive, observed_send)
            else:  # connexion would redirect a stray slash (307), a status the contract never documents
                await self._send_problem(scope, observed_send, ApiProblem(Kind.NOT_FOUND))
        finally:
            self.request_log.add(scope, status, started)

    async def _controlled(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        prefer = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"prefer"), None)
        try:
            preference = parse_prefer(prefer)
        except PreferError as exc:
            await self._send_problem(scope, send, preference_problem(str(exc)))
            return
        delay = self.controls.latency_ms(preference)
        if delay:
            await asyncio.sleep(delay / 1000)
        if preference.fault:
            await apply_fault(preference.fault, scope, receive, send, app)
            return
        if preference != NO_PREFERENCE:
            scope.setdefault("extensions", {})[SCOPE_KEY] = {"prefer": preference}
            await app(scope, receive, send)
        elif self.replay is not None:
            await self.replay.serve(app, scope, receive, send)
        else:
            await app(scope, receive, send)

    async def _send_problem(self, scope: Scope, send: Send, problem: ApiProblem) -> None:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        rendered = self.renderer.render(scope["path"], scope["method"], headers, problem)
        response_headers = [(b"content-type", b"application/json")]
        response_headers += [(k.lower().encode(), v.encode()) for k, v in rendered.headers.items()]
        await send_response(send, rendered.status, response_headers, orjson.dumps(rendered.body))
