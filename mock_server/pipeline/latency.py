"""Latency: `Prefer: delay=MS` for one request, `--latency MIN-MAX` for every request (drawn from a
generator seeded like the data, so a run's delays repeat)."""

from __future__ import annotations

import asyncio
import random

from starlette.types import ASGIApp, Receive, Scope, Send

from mock_server.pipeline.scope import preference_of


class Latency:
    def __init__(self, app: ASGIApp, bounds_ms: tuple[int, int] | None, seed: int) -> None:
        self.app = app
        self.bounds_ms = bounds_ms
        self.random = random.Random(seed)

    def delay_ms(self, scope: Scope) -> int:
        chosen = preference_of(scope).delay_ms
        if chosen is not None:
            return chosen
        return self.random.randint(*self.bounds_ms) if self.bounds_ms else 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        delay = self.delay_ms(scope)
        if delay:
            await asyncio.sleep(delay / 1000)
        await self.app(scope, receive, send)
