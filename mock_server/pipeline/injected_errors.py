"""`--error-rate P`: that fraction of requests answers the operation's documented 500, in the API's own
body; drawn from a generator seeded like the data, so a run's failures repeat. Connexion middleware
after security and validation (a refused request is refused, not failed)."""

from __future__ import annotations

import random

from starlette.types import ASGIApp, Receive, Scope, Send

from billing_contract.spec import Spec
from mock_server.errors import ApiProblem, Kind
from mock_server.pipeline.scope import operation_of


class InjectedErrors:
    def __init__(self, next_app: ASGIApp, rate: float, seed: int, spec: Spec) -> None:
        self.next_app = next_app
        self.rate = rate
        self.random = random.Random(seed)
        self.operations = frozenset(op_id for op_id, op in spec.operations.items() if 500 in op.statuses)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        operation_id = operation_of(scope)
        if operation_id in self.operations and self.random.random() < self.rate:
            raise ApiProblem(Kind.SERVER_ERROR, detail="a 500 injected by --error-rate")
        await self.next_app(scope, receive, send)
