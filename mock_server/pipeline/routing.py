"""Where a request goes: the tooling API, the contract, the served documents, Swagger UI, or, for any
other path, a 404 in the owning API's error body (connexion would redirect a stray slash with a 307,
a status the contract never documents)."""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from billing_contract.spec import Spec
from mock_server.errors import ApiProblem, Kind

TOOLING_PREFIX = "/__mock"


class ToolingRoutes:
    """`/__mock/...` goes to the tooling API, apart from the contract (never logged, never controlled)."""

    def __init__(self, app: ASGIApp, tooling: ASGIApp) -> None:
        self.app = app
        self.tooling = tooling

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(TOOLING_PREFIX + "/"):
            await self.tooling(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class Routing:
    def __init__(
        self,
        contract: ASGIApp,
        documents: ASGIApp,
        serves_document: Callable[[str], bool],
        docs: ASGIApp,
        docs_path: str,
        spec: Spec,
        problem_response: Callable[[Scope, ApiProblem], Response],
        lifespan: ASGIApp,
    ) -> None:
        self.contract = contract
        self.lifespan = lifespan
        self.documents = documents
        self.serves_document = serves_document
        self.docs = docs
        self.docs_path = docs_path
        self.spec = spec
        self.problem_response = problem_response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan: connexion's
            await self.lifespan(scope, receive, send)
            return
        path: str = scope["path"]
        if self.spec.documents_path(path):
            await self.contract(scope, receive, send)
        elif self.serves_document(path):
            await self.documents(scope, receive, send)
        elif path == self.docs_path or path.startswith(self.docs_path + "/"):
            await self.docs(scope, receive, send)
        else:
            await self.problem_response(scope, ApiProblem(Kind.NOT_FOUND))(scope, receive, send)


class WorkerSync:
    """With several workers: before anything reads the dataset, take another worker's admin change."""

    def __init__(self, app: ASGIApp, sync: Callable[[], None]) -> None:
        self.app = app
        self.sync = sync

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.sync()
        await self.app(scope, receive, send)
