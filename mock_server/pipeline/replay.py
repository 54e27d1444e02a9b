"""Replay connexion's answer to an identical request.

With no latency, error rate or throttle configured, an answer is a pure function of the dataset and
the request: the method, path, query string and the headers the contract reads (credentials,
`Api-Version`, `Unique-Key`, and `Host`, which Mifumo's links embed). The first such request goes
through connexion, which decides the answer; the second is remembered (a request seen once is only
noted: load made of distinct requests pays no copying or storing); later ones replay it. Bounded in bytes, least
recently used first out; the dataset's generation is part of the key, so a dataset change retires
every answer of the old one.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_server.pipeline.scope import NO_PREFERENCE, preference_of, reason_of, set_reason

Key = tuple[int, str, str, bytes, tuple[tuple[bytes, bytes], ...]]
# A request with a body, or one choosing its answer, is never replayed.
_UNCACHEABLE = (b"prefer", b"transfer-encoding")
_SEEN_LIMIT = 65_536


@dataclass(frozen=True)
class Answer:
    start: Message
    body: bytes
    # Why the request was refused, if it was: a replayed refusal says why too (the request log).
    reason: list[dict[str, str]] | None = None

    @property
    def size(self) -> int:
        return len(self.body) + 64 * len(self.start.get("headers", ()))


class ReplayCache:
    def __init__(
        self, header_names: Iterable[str], max_bytes: int = 32 * 1024 * 1024, max_answer: int = 512 * 1024
    ) -> None:
        self.header_names = frozenset(name.lower().encode("latin-1") for name in header_names) | {b"host"}
        self.max_bytes = max_bytes
        self.max_answer = max_answer
        self._answers: OrderedDict[Key, Answer] = OrderedDict()
        self._bytes = 0
        # Hashes of the requests seen once since the set was last emptied: plain ints, which the garbage
        # collector does not walk (a set of key tuples under distinct load made its pauses the p99).
        # A collision only means an answer is remembered one request early.
        self._seen: set[int] = set()

    def key(self, scope: Scope, generation: int = 0) -> Key | None:
        relevant = []
        for name, value in scope["headers"]:
            if name in _UNCACHEABLE or (name == b"content-length" and value != b"0"):
                return None
            if name in self.header_names:
                relevant.append((name, value))
        relevant.sort(key=lambda item: item[0])  # stable: repeated headers keep their order
        return generation, scope["method"], scope["path"], scope.get("query_string", b""), tuple(relevant)

    def clear(self) -> None:
        self._answers.clear()
        self._bytes = 0
        self._seen.clear()

    def _second_time(self, key: Key) -> bool:
        """Whether this request was seen before; notes it otherwise (bounded: forgets all at once)."""
        digest = hash(key)
        if digest in self._seen:
            return True
        if len(self._seen) >= _SEEN_LIMIT:
            self._seen.clear()
        self._seen.add(digest)
        return False

    def _store(self, key: Key, answer: Answer) -> None:
        if answer.size > self.max_answer:
            return
        self._answers[key] = answer
        self._bytes += answer.size
        while self._bytes > self.max_bytes and self._answers:
            _, evicted = self._answers.popitem(last=False)
            self._bytes -= evicted.size

    async def serve(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send, generation: int = 0) -> None:
        key = self.key(scope, generation)
        if key is None:
            await app(scope, receive, send)
            return
        answer = self._answers.get(key)
        if answer is not None:
            self._answers.move_to_end(key)
            if answer.reason:
                set_reason(scope, answer.reason)
            # Middleware outside (CORS) edits the start message in place: every replay gets its own copy.
            await send(_copy(answer.start))
            await send({"type": "http.response.body", "body": answer.body})
            return
        if not self._second_time(key):
            await app(scope, receive, send)
            return
        messages: list[Message] = []

        async def recording_send(message: Message) -> None:
            messages.append(_copy(message))
            await send(message)

        await app(scope, receive, recording_send)
        bodies = [m for m in messages if m["type"] == "http.response.body"]
        starts = [m for m in messages if m["type"] == "http.response.start"]
        if len(starts) == 1 and len(bodies) == 1 and not bodies[0].get("more_body"):
            self._store(key, Answer(starts[0], bodies[0].get("body", b""), reason_of(scope)))


def _copy(message: Message) -> Message:
    if "headers" not in message:
        return dict(message)
    return {**message, "headers": list(message["headers"])}


class Replay:
    """The pipeline stage: identical requests of the same dataset get the first one's answer."""

    def __init__(self, app: ASGIApp, cache: ReplayCache, generation: Callable[[], int]) -> None:
        self.app = app
        self.cache = cache
        self.generation = generation

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if preference_of(scope) is not NO_PREFERENCE:  # a chosen answer is never remembered
            await self.app(scope, receive, send)
            return
        await self.cache.serve(self.app, scope, receive, send, self.generation())
