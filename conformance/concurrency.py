"""The few concurrency tools the engine needs, kept apart so that the checks never see a thread.

`Shared` computes a value once per key, whichever thread asks first, and hands every other asker the
same value (or the same failure): two checks needing the same walk or page wait for one fetch instead
of making two. `run_in_order` runs tasks on up to N threads and returns their results in the order
given, so a report never depends on which task finished first; with N = 1 it runs them one after
another in the calling thread, as the suite always did.

Worker threads are daemons: a run stopped from outside (SIGTERM, Ctrl-C in the calling thread) does
not wait for a request in flight to time out before the process can exit.
"""

from __future__ import annotations

import ast
import contextlib
import threading
from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def clone_exception(exc: BaseException) -> BaseException:
    """A copy of `exc` to raise in another thread: raising mutates an exception (its traceback, and a
    check's `Failed.more`), so threads sharing one outcome each raise their own copy. Built without
    calling `__init__`, whose signature differs from class to class."""
    copy = type(exc).__new__(type(exc))
    copy.args = exc.args
    copy.__dict__.update(exc.__dict__)
    more = getattr(copy, "more", None)
    if isinstance(more, list):
        copy.more = list(more)  # type: ignore[attr-defined]
    return copy


@dataclass
class _Entry(Generic[T]):
    done: threading.Event = field(default_factory=threading.Event)
    value: T | None = None
    error: BaseException | None = None


class Shared(Generic[T]):
    """Values computed once per key and shared by every thread that asks for them.

    The first asker computes; later askers wait for that computation and get its value, or a copy of
    the exception it raised (a failure is an outcome too: asking again must not send its requests
    again). Keys that depend on each other must not form a cycle (they do not: a walk needs a count,
    never the reverse).
    """

    def __init__(self) -> None:
        self._entries: dict[Hashable, _Entry[T]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            entry = self._entries.get(key)
            mine = entry is None
            if entry is None:
                entry = self._entries[key] = _Entry()
        if mine:
            try:
                entry.value = compute()
            except BaseException as exc:  # kept for every asker, re-raised below
                entry.error = exc
            finally:
                entry.done.set()
        else:
            entry.done.wait()
        if entry.error is not None:
            raise clone_exception(entry.error)
        return entry.value  # type: ignore[return-value]


# How long an interrupted run waits for its workers to wind down (each refuses its next request at once).
WIND_DOWN_SECONDS = 10.0


def run_in_order(
    tasks: Sequence[Callable[[], T]], workers: int, on_interrupt: Callable[[], None] | None = None
) -> list[T]:
    """Each task's result, in the order of `tasks`, run on up to `workers` daemon threads (inline
    when `workers` is 1 or there is one task). A task is expected to catch its own errors; one that
    escapes is re-raised here once every task has ended. `on_interrupt` runs if the caller is
    interrupted (KeyboardInterrupt) while waiting, to tell the workers to stop; their results are then
    returned once they have wound down (without `on_interrupt`, the interruption is re-raised)."""
    if workers <= 1 or len(tasks) <= 1:
        return [task() for task in tasks]
    results: list[Any] = [None] * len(tasks)
    errors: list[BaseException] = []
    pending = iter(enumerate(tasks))
    lock = threading.Lock()
    finished = threading.Semaphore(0)

    def work() -> None:
        while True:
            with lock:
                item = next(pending, None)
            if item is None:
                finished.release()
                return
            index, task = item
            try:
                results[index] = task()
            except BaseException as exc:  # reported to the caller below
                errors.append(exc)

    threads = [threading.Thread(target=work, daemon=True, name=f"conformance-{i}") for i in range(workers)]
    _start(threads)
    try:
        for _ in threads:
            finished.acquire()
    except KeyboardInterrupt:
        if on_interrupt is None:
            raise
        # Told to stop (Ctrl-C, SIGTERM): the workers are told too, and wind down at once (every request
        # now refused), each task reporting what it did not run; their results are what the run has.
        on_interrupt()
        for thread in threads:
            thread.join(timeout=WIND_DOWN_SECONDS)
    if errors:
        raise errors[0]
    return results


class WaitingGate:
    """One holder at a time, until answers are seen to be slow: then any number at once.

    What it guards (Schemathesis engines) pays off side by side only while the run waits for the backend:
    an engine spends about 10 ms of interpreter time per case, and engines computing at once only contend
    for the GIL (measured on loopback: one after another 2.9-3.2 s of CPU, side by side 4.2-5.0 s, bench/README.md).
    So holders take turns until `samples` answers in a row have each taken at least `slow` seconds (the
    fastest of them, because a measured answer time also holds the wait for the GIL after the answer came,
    which only ever adds); a backend that slow leaves the interpreter idle enough for all of them. Once
    open it stays open. The gate only orders work that does not depend on its order: what the holders
    find is the same either way.
    """

    def __init__(self, slow: float = 0.025, samples: int = 8) -> None:
        self.slow = slow
        self.samples = samples
        self._times: deque[float] = deque(maxlen=samples)
        self._open = False
        self._busy = 0
        self._changed = threading.Condition()

    @property
    def is_open(self) -> bool:
        return self._open

    def observe(self, seconds: float) -> None:
        """One answer's time (sending the request to reading the answer)."""
        with self._changed:
            if self._open:
                return
            self._times.append(seconds)
            if len(self._times) == self.samples and min(self._times) >= self.slow:
                self._open = True
                self._changed.notify_all()

    @contextlib.contextmanager
    def turn(self, check: Callable[[], None] = lambda: None) -> Iterator[None]:
        """Hold the gate for the block: alone while it is closed. `check` runs while waiting (a stop)."""
        with self._changed:
            while self._busy and not self._open:
                self._changed.wait(timeout=0.1)
                check()
            self._busy += 1
        try:
            yield
        finally:
            with self._changed:
                self._busy -= 1
                self._changed.notify_all()


def _start(threads: Iterable[threading.Thread]) -> None:
    for thread in threads:
        thread.start()


_AST_PARSE = threading.Lock()
_ast_users = 0
_ast_original: Callable[..., Any] | None = None
_ast_install = threading.Lock()


@contextlib.contextmanager
def serialized_ast_parse() -> Iterator[None]:
    """`ast.parse` one call at a time while the block runs (nested and concurrent blocks share one patch).

    CPython 3.11 keeps the AST constructor's recursion counter in state every thread shares: two threads
    parsing at once can fail with "SystemError: AST constructor recursion depth mismatch" (python/cpython
    #106905). Hypothesis parses source on the way (lambda descriptions, filter bounds), so two Schemathesis
    engines side by side did. Parsing is CPU work under the GIL anyway: taking turns costs nothing."""
    global _ast_users, _ast_original
    with _ast_install:
        if _ast_users == 0:
            _ast_original = original = ast.parse

            def parse(*args: Any, **kwargs: Any) -> Any:
                with _AST_PARSE:
                    return original(*args, **kwargs)

            ast.parse = parse  # type: ignore[assignment]
        _ast_users += 1
    try:
        yield
    finally:
        with _ast_install:
            _ast_users -= 1
            if _ast_users == 0 and _ast_original is not None:
                ast.parse = _ast_original  # type: ignore[assignment]
                _ast_original = None
