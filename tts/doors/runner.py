"""Jobs from an event loop run on job threads, in arrival order, with a bounded wait.

An async door (the queue handler, the HTTP/WebSocket server) submits a job as a function that returns its event iterator
(TTSService.run); a job thread iterates it and hands each event to the door's loop, so the loop stays free
to answer /ping and to read and write sockets while the engine works. Beyond `max_waiting` jobs waiting for a
thread, submit() refuses (the door answers 429). A door that loses its client cancels the ticket: a waiting job
is dropped, a running one is closed at its next event (its audio is then not cached). The ticket's cancel token
(tts/cancel.py) is the job thread's current token while the job runs: an engine that reads it (CSM's batcher)
stops within one step of its loop, without waiting for the next event."""
from __future__ import annotations

import asyncio
import atexit
import collections
import logging
import threading
import weakref
from collections.abc import Callable, Iterator

from tts.cancel import Cancelled, CancelToken, running

log = logging.getLogger("tts.runner")

_END = object()
_LIVE: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    # At interpreter exit no job thread may still be inside an engine (onnxruntime, torch): one that is can abort
    # the process ("terminate called without an active exception"). Running jobs are stopped at their next piece.
    for runner in list(_LIVE):
        runner.close(timeout=10)


class Busy(Exception):
    """Every job thread is busy and the waiting line is full."""

    def __init__(self, running: int, waiting: int, max_waiting: int, retry_after_s: int):
        self.retry_after_s = retry_after_s
        line = f"{waiting} more waiting (MAX_QUEUE={max_waiting})" if max_waiting else "no waiting line (MAX_QUEUE=0)"
        super().__init__(f"{running} jobs are running (MAX_CONCURRENCY) and {line}; retry in about "
                         f"{retry_after_s} s")


class Ticket:
    """One submitted job, as seen from the event loop: iterate it for the job's events.

    Back-pressure: the job thread waits while more than MAX_UNREAD bytes of audio it handed over are unread (a slow
    client), and gives the job up after STALL_S without the reader taking anything. A door that stops listening
    cancels the ticket: the job stops at its next event (a piece of audio), or sooner where the engine reads the
    ticket's `token` (within one step of its loop)."""

    MAX_UNREAD = 4 * 1024 * 1024
    STALL_S = 60.0

    def __init__(self, loop: asyncio.AbstractEventLoop, start: Callable[[], Iterator]):
        self.start = start
        self.cancelled = False
        self.token = CancelToken()   # the engine's view of the cancel (tts/cancel.py)
        self._loop = loop
        self._events: asyncio.Queue = asyncio.Queue()
        self._unread = 0
        self._room = threading.Condition()

    def cancel(self) -> None:
        self.cancelled = True
        self.token.cancel()
        with self._room:
            self._room.notify_all()

    def _put(self, event) -> None:  # from a job thread
        size = _size(event)
        with self._room:
            waited = 0.0
            while self._unread and self._unread + size > self.MAX_UNREAD and not self.cancelled:
                if waited >= self.STALL_S:
                    log.warning("a client stopped reading its audio for %.0f s: its job is given up", waited)
                    self.cancelled = True
                    self.token.cancel()
                    break
                self._room.wait(1.0)
                waited += 1.0
            self._unread += size
        try:
            self._loop.call_soon_threadsafe(self._events.put_nowait, event)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self.cancelled = True
            self.token.cancel()

    def __aiter__(self):
        return self

    async def __anext__(self):
        event = await self._events.get()
        if event is _END:
            raise StopAsyncIteration
        if isinstance(event, BaseException):
            raise event
        if size := _size(event):
            with self._room:
                self._unread -= size
                self._room.notify_all()
        return event


def _size(event) -> int:
    data = getattr(event, "data", None)
    return len(data) if isinstance(data, (bytes, bytearray)) else 0


def job_runner(service) -> Runner:
    """The job threads of a worker, for every door alike: MAX_CONCURRENCY of them (the engine's capacity by
    default), with MAX_QUEUE more jobs waiting; their occupancy is published with the service's metrics."""
    settings = service.settings
    runner = Runner(threads=settings.max_concurrency or service.engine.max_concurrency,
                    max_waiting=settings.max_queue)
    service.metrics.gauge("tts_jobs_running", "Jobs running on job threads now", lambda: runner.running)
    service.metrics.gauge("tts_jobs_waiting", "Jobs waiting for a job thread now", lambda: runner.waiting)
    return runner


class Runner:
    def __init__(self, threads: int = 1, max_waiting: int = 8, typical_job_s: float = 2.0):
        self.threads = threads
        self.max_waiting = max_waiting
        self.typical_job_s = typical_job_s   # for Retry-After
        self.running = 0
        self._waiting: collections.deque[Ticket] = collections.deque()
        self._cond = threading.Condition()
        self._closed = False
        self._threads = [threading.Thread(target=self._work, name=f"job-{i}", daemon=True) for i in range(threads)]
        self._running: set[Ticket] = set()
        for t in self._threads:
            t.start()
        _LIVE.add(self)

    def close(self, timeout: float = 30.0) -> None:
        """Take no more jobs, stop the running ones at their next piece, and stop the threads (waiting jobs end
        unrun)."""
        with self._cond:
            self._closed = True
            running = list(self._running)
            self._cond.notify_all()
        for ticket in running:
            ticket.cancel()
        for t in self._threads:
            t.join(timeout)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def submit(self, start: Callable[[], Iterator]) -> Ticket:
        """Queue a job (call from the event loop); raises Busy when every thread has a job and the line is full
        (jobs submitted but not yet picked up by a thread count as waiting, so a burst cannot pass the limit)."""
        ticket = Ticket(asyncio.get_running_loop(), start)
        with self._cond:
            if self._closed:
                raise RuntimeError("the worker is shutting down")
            if self.running + len(self._waiting) >= self.threads + self.max_waiting:
                ahead = len(self._waiting) + self.running
                raise Busy(self.running, len(self._waiting), self.max_waiting,
                           max(1, round(ahead * self.typical_job_s / self.threads)))
            self._waiting.append(ticket)
            self._cond.notify()
        return ticket

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._waiting and not self._closed:
                    self._cond.wait()
                if self._closed:
                    for ticket in self._waiting:
                        ticket._put(_END)
                    self._waiting.clear()
                    return
                ticket = self._waiting.popleft()
                if ticket.cancelled:
                    ticket._put(_END)
                    continue
                self.running += 1
                self._running.add(ticket)
            try:
                self._run(ticket)
            finally:
                with self._cond:
                    self.running -= 1
                    self._running.discard(ticket)

    @staticmethod
    def _run(ticket: Ticket) -> None:
        events = None
        try:
            with running(ticket.token):  # the engine sees the cancel on this thread (tts/cancel.py)
                try:
                    events = ticket.start()
                    for event in events:
                        ticket._put(event)
                        if ticket.cancelled:
                            break
                finally:
                    if events is not None and hasattr(events, "close"):
                        events.close()  # an abandoned job stops here: nothing more is made or cached
        except Cancelled:
            pass  # the engine stopped for the cancel: the door that cancelled wants nothing more
        except BaseException as e:  # noqa: BLE001 - the door hears it; the thread lives on
            log.error("a job raised outside the service: %r", e)
            ticket._put(e)
        finally:
            ticket._put(_END)
