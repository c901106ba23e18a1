"""A job's cancel, seen by the engine: the runner (tts/doors/runner.py) gives each job a CancelToken and makes it
the job thread's current token while the job runs; an engine that can stop between two steps of its loop (CSM's
batcher: a frame) reads it when a request starts and stops that request as soon as the token is cancelled, instead
of at the next piece it hands over.

An engine stopped this way raises Cancelled in the job thread: a BaseException (as asyncio's CancelledError), so
no `except Exception` on the way takes it for a failure, answers it or caches what was made before it; the runner
ends the job quietly. Code that runs with no token (a job outside the runner, a benchmark) is never cancelled."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar


class Cancelled(BaseException):
    """The job's token was cancelled: its consumer went away; nothing it made is wanted."""


class CancelToken:
    def __init__(self):
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        """From any thread; the callbacks run once, on this thread, now."""
        with self._lock:
            if self._event.is_set():
                return
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
        for fn in callbacks:
            fn()

    def on_cancel(self, fn: Callable[[], None]) -> Callable[[], None]:
        """Call fn() when the token is cancelled (at once if it already is); returns a function that forgets it."""
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(fn)
                return lambda: self._forget(fn)
        fn()
        return lambda: None

    def _forget(self, fn) -> None:
        with self._lock:
            if fn in self._callbacks:
                self._callbacks.remove(fn)


_CURRENT: ContextVar[CancelToken | None] = ContextVar("tts_cancel_token", default=None)


def current() -> CancelToken | None:
    """The token of the job running on this thread, if it has one."""
    return _CURRENT.get()


@contextmanager
def running(token: CancelToken) -> Iterator[CancelToken]:
    """Make `token` this thread's current token for the block (the job's run)."""
    reset = _CURRENT.set(token)
    try:
        yield token
    finally:
        _CURRENT.reset(reset)
