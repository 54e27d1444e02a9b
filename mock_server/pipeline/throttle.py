"""WePay's rate limit, enforced (`--rate-limit`): at most the spec's `x-rate-limit` requests per
operation and account (`App-Id`) in its window; over it, `429 THROTTLE_EXCEEDED` with `Retry-After`.
Connexion middleware after security and validation, on every operation that documents 429. (The suite
paces its own requests; this is the opposite job.)"""

from __future__ import annotations

import time
from collections import defaultdict, deque

from starlette.types import ASGIApp, Receive, Scope, Send

from billing_contract.spec import Spec
from mock_server.errors import ApiProblem, Kind
from mock_server.pipeline.scope import operation_of


class Throttle:
    """A sliding window per (operation, account) of at most `limit` requests in `window` seconds."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[tuple[str, str], deque[float]] = defaultdict(deque)

    def retry_after(self, operation_id: str, account: str, now: float | None = None) -> int | None:
        """Record a request; None when allowed, else whole seconds until the window has room."""
        now = time.monotonic() if now is None else now
        hits = self._hits[(operation_id, account)]
        while hits and now - hits[0] >= self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return max(1, int(hits[0] + self.window - now + 0.999))
        hits.append(now)
        return None


class Throttling:
    def __init__(self, next_app: ASGIApp, spec: Spec) -> None:
        self.next_app = next_app
        self.throttle = Throttle(spec.facts.rate_limit.requests, spec.facts.rate_limit.window_s)
        self.operations = frozenset(op_id for op_id, op in spec.operations.items() if 429 in op.statuses)
        self.account_header = spec.facts.account_header.lower().encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        operation_id = operation_of(scope)
        if scope["type"] == "http" and operation_id in self.operations:
            account = next((v.decode("latin-1") for k, v in scope["headers"] if k == self.account_header), "")
            wait = self.throttle.retry_after(operation_id, account)
            if wait is not None:
                raise ApiProblem(Kind.THROTTLED, retry_after=wait)
        await self.next_app(scope, receive, send)
