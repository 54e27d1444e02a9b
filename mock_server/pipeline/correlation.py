"""WePay's `X-Correlation-Id`: every answer on a path of an API whose responses declare it carries one
(errors, 404s and 405s included), stamped here, outside connexion, unless the answer already has one."""

from __future__ import annotations

import functools
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billing_contract.spec import Spec

HEADER = "X-Correlation-Id"
_NAME = HEADER.lower().encode()


def correlated_tags(spec: Spec) -> frozenset[str]:
    """The tags (APIs) whose operations declare the header on a response."""
    return frozenset(
        op.tag
        for op in spec.operations.values()
        if any(HEADER in (r.get("headers") or {}) for r in spec.resolve(op.raw["responses"]).values())
    )


class CorrelationIds:
    def __init__(self, app: ASGIApp, spec: Spec) -> None:
        self.app = app
        self.spec = spec
        self.tags = correlated_tags(spec)
        self.correlated = functools.lru_cache(maxsize=1024)(self._correlated)

    def _correlated(self, path: str) -> bool:
        return self.spec.tag_of_path(path) in self.tags

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.correlated(scope["path"]):
            await self.app(scope, receive, send)
            return

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == _NAME for name, _ in headers):
                    headers.append((_NAME, str(uuid.uuid4()).encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, stamped)
