"""`billing-mock --reload`: rebuild the mock in place when the spec or the fixtures file changes.

uvicorn's own reloader restarts a worker process per change: a bad edit then kills the worker (a
multiprocessing traceback) while the reloader keeps the port bound, so every request hangs until the
file is fixed. Here one process serves throughout: a change is built beside the app being served, and
only a build that succeeds replaces it. A failed one prints the same one line as at start-up and the
last good version keeps serving.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from starlette.types import Receive, Scope, Send
from watchfiles import Change, awatch

from mock_server.app import MockApp

# Quick enough to feel live, long enough that an editor's save (write, rename) arrives as one batch.
DEBOUNCE_MS = 300


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class ReloadingApp:
    """ASGI app serving the last good build of the mock, rebuilt when a watched file changes.

    Only the named files are watched. Their folders are watched non-recursively (an editor's atomic
    save replaces the file, which a watch on the file itself would lose) and filtered to those names, so
    a big tree beside the fixtures (a `node_modules`) costs nothing and triggers nothing.
    """

    def __init__(
        self,
        app: MockApp,
        build: Callable[[], MockApp],
        watched: Sequence[Path],
        errors: tuple[type[Exception], ...],
        say: Callable[[str], None] = _say,
    ) -> None:
        self.current = app
        self.build = build
        self.watched = frozenset(p.resolve() for p in watched)
        self.errors = errors
        self.say = say
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._built_from = self.contents()

    def contents(self) -> dict[Path, str | None]:
        """A digest of each watched file (None when unreadable): one save often arrives as several
        batches of events (truncate, write, rename), and only a change of content is worth a rebuild."""
        digests: dict[Path, str | None] = {}
        for path in self.watched:
            try:
                digests[path] = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                digests[path] = None
        return digests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        await self.current(scope, receive, send)

    def is_watched(self, _change: Change, path: str) -> bool:
        return Path(path).resolve() in self.watched

    async def rebuild(self) -> bool:
        """Build from the files as they are now; serve the result only if the build succeeded."""
        contents = await asyncio.to_thread(self.contents)
        if contents == self._built_from:
            return False
        self._built_from = contents  # a failed build is reported once, not again for the same content
        try:
            app = await asyncio.to_thread(self.build)
        except self.errors as exc:
            self.say(f"billing-mock: error: {exc} (still serving the last good version)")
            return False
        app.request_log = self.current.request_log  # what clients sent stays inspectable across reloads
        self.current = app
        summary = app.state.summary()
        self.say(
            f"billing-mock: reloaded ({summary['source']}: {summary['mifumo']['records']} records, "
            f"{summary['wepay']['statements']} statements)"
        )
        return True

    async def watch(self) -> None:
        folders = sorted({str(p.parent) for p in self.watched})
        try:
            async for _changes in awatch(
                *folders,
                watch_filter=self.is_watched,
                recursive=False,
                debounce=DEBOUNCE_MS,
                stop_event=self._stop,
            ):
                await self.rebuild()
        except Exception as exc:  # e.g. the folder was removed: say so, and keep serving
            self.say(f"billing-mock: error: --reload stopped watching: {type(exc).__name__}: {exc}")

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._task = asyncio.create_task(self.watch())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self._stop.set()
                if self._task is not None:
                    await self._task
                await send({"type": "lifespan.shutdown.complete"})
                return
