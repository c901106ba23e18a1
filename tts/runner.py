"""Jobs from an event loop run on engine threads, in arrival order, with a bounded wait.

An async door (the HTTP/WebSocket server) submits a job as a function that returns its event iterator
(TTSService.run); an engine thread iterates it and hands each event to the door's loop, so the loop stays free
to answer /ping and to read and write sockets while the engine works. Beyond `max_waiting` jobs waiting for a
thread, submit() refuses (the door answers 429). A door that loses its client cancels the ticket: a waiting job
is dropped, a running one is closed at its next event (its audio is then not cached)."""
from __future__ import annotations

import asyncio
import collections
import logging
import threading
from collections.abc import Callable, Iterator

log = logging.getLogger("tts.runner")

_END = object()


class Busy(Exception):
    """Every engine thread is busy and the waiting line is full."""

    def __init__(self, waiting: int, retry_after_s: int):
        self.waiting = waiting
        self.retry_after_s = retry_after_s
        super().__init__(f"{waiting} requests are waiting for the engine; retry in about {retry_after_s} s")


class Ticket:
    """One submitted job, as seen from the event loop: iterate it for the job's events."""

    def __init__(self, loop: asyncio.AbstractEventLoop, start: Callable[[], Iterator]):
        self.start = start
        self.cancelled = False
        self._loop = loop
        self._events: asyncio.Queue = asyncio.Queue()

    def cancel(self) -> None:
        self.cancelled = True

    def _put(self, event) -> None:  # from an engine thread
        try:
            self._loop.call_soon_threadsafe(self._events.put_nowait, event)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self.cancelled = True

    def __aiter__(self):
        return self

    async def __anext__(self):
        event = await self._events.get()
        if event is _END:
            raise StopAsyncIteration
        if isinstance(event, BaseException):
            raise event
        return event


class Runner:
    def __init__(self, threads: int = 1, max_waiting: int = 8, typical_job_s: float = 2.0):
        self.threads = threads
        self.max_waiting = max_waiting
        self.typical_job_s = typical_job_s   # for Retry-After
        self.running = 0
        self._waiting: collections.deque[Ticket] = collections.deque()
        self._cond = threading.Condition()
        for i in range(threads):
            threading.Thread(target=self._work, name=f"engine-{i}", daemon=True).start()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def submit(self, start: Callable[[], Iterator]) -> Ticket:
        """Queue a job (call from the event loop); raises Busy when the line is full."""
        ticket = Ticket(asyncio.get_running_loop(), start)
        with self._cond:
            busy = self.running >= self.threads
            if busy and len(self._waiting) >= self.max_waiting:
                ahead = len(self._waiting) + self.running
                raise Busy(len(self._waiting), max(1, round(ahead * self.typical_job_s / self.threads)))
            self._waiting.append(ticket)
            self._cond.notify()
        return ticket

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._waiting:
                    self._cond.wait()
                ticket = self._waiting.popleft()
                if ticket.cancelled:
                    ticket._put(_END)
                    continue
                self.running += 1
            try:
                self._run(ticket)
            finally:
                with self._cond:
                    self.running -= 1

    @staticmethod
    def _run(ticket: Ticket) -> None:
        events = None
        try:
            events = ticket.start()
            for event in events:
                ticket._put(event)
                if ticket.cancelled:
                    break
        except BaseException as e:  # noqa: BLE001 - the door hears it; the thread lives on
            log.error("a job raised outside the service: %r", e)
            ticket._put(e)
        finally:
            if events is not None and hasattr(events, "close"):
                events.close()  # an abandoned job stops here: nothing more is made or cached
            ticket._put(_END)
