"""Job slots for many sessions: at most n jobs at once, earliest deadline first."""
from __future__ import annotations

import asyncio
import heapq
import itertools


class Slots:
    """At most `n` session jobs at once; of those waiting, the segment whose audio will be played soonest goes
    first (a context's first segment: at once; a later one: when the audio already sent runs out), so a context
    with seconds of audio ahead of its listener gives way to one about to fall silent. Earliest deadline first:
    many more sessions stay ahead of real time than in arrival order."""

    def __init__(self, n: int):
        self.free = n
        self._waiting: list = []   # a heap of (due, arrival, future)
        self._arrivals = itertools.count()

    async def acquire(self, due: float) -> None:
        if self.free and not self._waiting:
            self.free -= 1
            return
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (due, next(self._arrivals), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()   # handed a slot just as it was cancelled: pass it on
            raise

    def release(self) -> None:
        while self._waiting:
            _, _, future = heapq.heappop(self._waiting)
            if not future.done():
                future.set_result(None)
                return
        self.free += 1
