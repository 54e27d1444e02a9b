"""Build the mock: the contract's connexion app inside the mock's own pipeline, assembled in one place.

create_app(MockConfig(seed=7)) -> MockApp   # an ASGI app; `.state` exposes data and credentials

`contract_middlewares` lists connexion's stack for the contract, in order, with the mock's stages in
it; `build_stack` lists the pipeline around it, outermost first (mock_server.pipeline says what each
stage does and why it stands where it does).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from connexion import AsyncApp
from connexion.exceptions import ProblemException
from connexion.middleware.context import ContextMiddleware
from connexion.middleware.exceptions import ExceptionMiddleware
from connexion.middleware.lifespan import LifespanMiddleware
from connexion.middleware.request_validation import RequestValidationMiddleware
from connexion.middleware.routing import RoutingMiddleware
from connexion.middleware.security import SecurityMiddleware
from connexion.middleware.server_error import ServerErrorMiddleware
from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from connexion.options import SwaggerUIOptions
from connexion.resolver import Resolver
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from billing_contract.facts import CURSOR_PARAM, DESCRIBE_HISTORY, GET_HISTORY, LIST_STATEMENTS
from billing_contract.profiles import DRF, PROFILES
from billing_contract.spec import Spec
from fixtures import Dataset
from mock_server.admin import AdminApi
from mock_server.compiled import CompiledPath, OperationPlan
from mock_server.config import MockConfig
from mock_server.connexion_document import for_connexion
from mock_server.connexion_fastpath import CachingURIParser, use_prebuilt_operations
from mock_server.cors import Cors, request_headers
from mock_server.documented import DocumentedResponses
from mock_server.documents import ServedDocuments
from mock_server.errors import ApiProblem, ErrorRenderer
from mock_server.handlers import Handlers
from mock_server.pipeline.chosen import CheckedPreference, ChosenAnswer
from mock_server.pipeline.correlation import CorrelationIds
from mock_server.pipeline.drf_views import DrfViews
from mock_server.pipeline.faults import Faults
from mock_server.pipeline.injected_errors import InjectedErrors
from mock_server.pipeline.latency import Latency
from mock_server.pipeline.preferences import ReadPreference
from mock_server.pipeline.replay import Replay, ReplayCache
from mock_server.pipeline.request_log import LOG_SIZE, RequestLog, RequestLogging
from mock_server.pipeline.routing import TOOLING_PREFIX, Routing, ToolingRoutes, WorkerSync
from mock_server.pipeline.throttle import Throttling
from mock_server.security import Credentials, bearer_accepted, security_map
from mock_server.serving import ServingState, build_dataset
from mock_server.shared_state import REQUESTS_FILE, FileEntries, SharedDataset, shared_state_dir
from mock_server.store import ServingData
from mock_server.validation import CollectingParameterValidator

__all__ = ["DOCS_PATH", "SPEC_PATH", "SPEC_YAML_PATH", "TOOLING_PREFIX", "MockApp", "MockState", "create_app"]

DOCS_PATH = "/docs"  # Swagger UI on the contract
SPEC_PATH = "/openapi.json"  # the contract itself, as written ($refs kept; see mock_server.documents)
SPEC_YAML_PATH = "/openapi.yaml"  # the same, in YAML
# Swagger UI comes from a second connexion app holding only the page: on the contract's paths its router
# would be one more routing pass per request.
DOCUMENT_MIDDLEWARES = (ServerErrorMiddleware, ExceptionMiddleware, SwaggerUIMiddleware)


@dataclass
class MockState:
    config: MockConfig
    spec: Spec
    serving: ServingState
    credentials: Credentials

    @property
    def data(self) -> ServingData:
        return self.serving.data

    def summary(self) -> dict[str, Any]:
        return self.serving.summary()


def _cursor_excludes(spec: Spec) -> tuple[str, ...]:
    """The query parameters a cursor already carries, so that may not be sent beside it."""
    names = (p["name"] for p in spec.parameters(LIST_STATEMENTS) if p["in"] == "query")
    return tuple(name for name in names if name != CURSOR_PARAM)


def _handlers(spec: Spec, serving: ServingState) -> Handlers:
    return Handlers(
        serving,
        collection_path=spec.operations[LIST_STATEMENTS].path,
        cursor_param=CURSOR_PARAM,
        cursor_excludes=_cursor_excludes(spec),
        list_defaults=(
            int(spec.query_default(LIST_STATEMENTS, "page_size")),
            str(spec.query_default(LIST_STATEMENTS, "currency")),
        ),
        history_page_size=(
            int(spec.documented_integer(GET_HISTORY, "page_size")["default"]),
            int(spec.documented_integer(GET_HISTORY, "page_size")["maximum"]),
        ),
        history_metadata=spec.example(DESCRIBE_HISTORY, 200),
    )


def contract_middlewares(
    config: MockConfig, spec: Spec, plans: dict[str, OperationPlan]
) -> list[ASGIApp | partial[Any]]:
    """Connexion's stack for the contract, in order, with the mock's stages where they belong. Left out:
    connexion's Swagger UI router (a second app serves the page) and its response validator (off: the
    tests check every answer of the mock against the spec)."""
    documented = DocumentedResponses(spec)
    controls = config.controls
    stack: list[Any] = [
        ServerErrorMiddleware,  # anything unforeseen: the API's 500, never a traceback
        partial(CompiledPath, plans=plans, spec=spec) if plans else None,  # valid requests: straight in
        ExceptionMiddleware,  # every error below becomes the owning API's body (ErrorRenderer)
        RoutingMiddleware,  # which operation
        partial(CheckedPreference, documented=documented, spec=spec),  # Prefer code/example documented?
        SecurityMiddleware,  # credentials (security_map)
        RequestValidationMiddleware,  # every parameter at once (CollectingParameterValidator)
        partial(Throttling, spec=spec) if controls.rate_limit else None,  # WePay's 429
        partial(ChosenAnswer, documented=documented),  # the documented answer a client chose
        partial(InjectedErrors, rate=controls.error_rate, seed=controls.seed, spec=spec)
        if controls.error_rate
        else None,
        LifespanMiddleware,
        ContextMiddleware,
    ]
    return [middleware for middleware in stack if middleware is not None]


def build_stack(
    config: MockConfig,
    spec: Spec,
    parts: MockApp,
) -> ASGIApp:
    """The pipeline around connexion, outermost first (a request passes down this list)."""
    controls = config.controls
    problem = parts.renderer.response

    def controlled(app: ASGIApp, replay: ReplayCache | None) -> ASGIApp:
        """What a client can ask of the contract's and the page's answers: Prefer, latency, faults."""
        stages = [
            Middleware(ReadPreference, problem_response=problem),
            Middleware(Latency, bounds_ms=controls.latency_ms, seed=controls.seed),
            Middleware(Faults),
            *([Middleware(Replay, cache=replay, generation=lambda: parts.serving.generation)] if replay else []),
        ]
        return _wrap(app, stages)

    routing = Routing(
        contract=controlled(parts.connexion_app, parts.replay),
        documents=parts.documents,
        serves_document=parts.documents.serves,
        docs=controlled(parts.docs_app, None),
        docs_path=DOCS_PATH,
        spec=spec,
        problem_response=problem,
        lifespan=parts.connexion_app,
    )
    outer = [
        *([Middleware(Cors, origins=config.cors_origins, spec=spec)] if config.cors_origins is not None else []),
        *([Middleware(WorkerSync, sync=parts.serving.sync)] if parts.serving.shared else []),
        Middleware(ToolingRoutes, tooling=parts.admin),
        Middleware(RequestLogging, log=parts.request_log),
        Middleware(CorrelationIds, spec=spec),
        # An API on Django REST Framework (Mifumo): its redirects, view headers, negotiation, authentication first.
        *(
            Middleware(
                DrfViews,
                spec=spec,
                tag=profile.tag,
                authenticated=partial(bearer_accepted, credentials=config.credentials),
                refusal=partial(_refusal, parts=parts, tag=profile.tag),
            )
            for profile in PROFILES.values()
            if profile.framework == DRF
        ),
    ]
    return _wrap(routing, outer)


def _refusal(scope: Scope, parts: MockApp, tag: str) -> Response:
    """The credentials check's answer to a request (a 401 in the API's own body)."""
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
    return parts.renderer.response(scope, parts.renderer.unauthenticated(tag, headers))


def _wrap(app: ASGIApp, stages: list[Middleware]) -> ASGIApp:
    """Wrap `app` in `stages`, the first outermost (as Starlette builds its middleware stack)."""
    for cls, args, kwargs in reversed(stages):
        app = cls(app, *args, **kwargs)
    return app


def create_app(config: MockConfig | None = None, dataset: Dataset | None = None) -> MockApp:
    config = config or MockConfig()
    spec = Spec.load(config.spec_path)
    state_dir = shared_state_dir()  # set when this is one of several workers
    serving = ServingState(
        spec, dataset or build_dataset(config, spec), SharedDataset(state_dir) if state_dir else None
    )
    handlers = _handlers(spec, serving)
    renderer = ErrorRenderer(spec, config.credentials)
    plans: dict[str, OperationPlan] = {}
    as_connexion_reads_it = Spec(for_connexion(spec), spec.path)  # what connexion and the plans validate
    if config.compiled_path and not (config.controls.rate_limit or config.controls.error_rate):
        plans = {
            op_id: OperationPlan(as_connexion_reads_it, op, handlers.resolve(op_id), config.credentials)
            for op_id, op in spec.operations.items()
        }
    resolver = Resolver(function_resolver=handlers.resolve)
    contract = AsyncApp(
        __name__,
        middlewares=contract_middlewares(config, spec, plans),
        security_map=security_map(config.credentials),
        validator_map={"parameter": CollectingParameterValidator},
    )
    # The app connexion's middleware wraps (its public `middleware.app`, until start-up replaces it with the
    # middleware stack built around it), whose `api_cls` is the hook.
    use_prebuilt_operations(contract.middleware.app)
    contract.add_api(
        as_connexion_reads_it.document, resolver=resolver, strict_validation=False, pythonic_params=False,
        uri_parser_class=CachingURIParser,
    )  # fmt: skip
    docs = AsyncApp(
        __name__,
        middlewares=list(DOCUMENT_MIDDLEWARES),
        # The page loads SPEC_PATH, which the mock serves itself: connexion's copy has every $ref inlined.
        swagger_ui_options=SwaggerUIOptions(swagger_ui_path=DOCS_PATH, spec_path=SPEC_PATH, serve_spec=False),
    )
    docs.add_api(as_connexion_reads_it.document, resolver=resolver)
    for connexion_app in (contract, docs):
        for exc_class in (ApiProblem, ProblemException, HTTPException, Exception):
            connexion_app.add_error_handler(exc_class, renderer)
        for status in (404, 405):
            connexion_app.add_error_handler(status, renderer)
    entries = FileEntries(state_dir / REQUESTS_FILE, LOG_SIZE) if state_dir else None
    return MockApp(
        state=MockState(config, spec, serving, config.credentials),
        connexion_app=contract,
        docs_app=docs,
        renderer=renderer,
        request_log=RequestLog.for_spec(spec, entries),
        compiled_plans=plans,
    )


class MockApp:
    """The ASGI app: the contract inside the mock's pipeline (`build_stack`), the tooling API beside it."""

    def __init__(
        self,
        state: MockState,
        connexion_app: AsyncApp,
        docs_app: AsyncApp,
        renderer: ErrorRenderer,
        request_log: RequestLog,
        compiled_plans: dict[str, OperationPlan],
    ) -> None:
        self.state = state
        self.serving = state.serving
        self.connexion_app = connexion_app
        self.docs_app = docs_app
        self.renderer = renderer
        self.request_log = request_log
        # The compiled path's per-operation plans (empty when it is off); see mock_server.compiled.
        self.compiled_plans = compiled_plans
        # Latency, injected errors and throttling make answers depend on more than the request.
        deterministic = state.config.controls.deterministic
        self.replay = ReplayCache(request_headers(state.spec)) if deterministic else None
        self.admin = AdminApi(self.serving, request_log, state.config)
        self.documents = ServedDocuments(state.spec.document, SPEC_PATH, SPEC_YAML_PATH)
        self.asgi = build_stack(state.config, state.spec, self)

    def swap_dataset(self, dataset: Dataset) -> None:
        """Serve another dataset from the next request on; cursors of the old one stop being accepted."""
        self.serving.swap(dataset)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.asgi(scope, receive, send)
