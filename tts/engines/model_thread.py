"""The one thread that runs an engine's torch work: loading, warm-up, graph capture, generation, decoding.

Why one thread: on the CPU, every thread that runs torch operations gets its own OpenMP team, and once a process
has more OpenMP threads than cores, every team's workers sleep between parallel regions instead of spinning, so
each small kernel pays a wake-up (measured on two cores: CSM's frame step went from 16 to 40+ ms per frame when a
second thread had ever run torch). On CUDA, the current device and the capture stream of a CUDA graph belong to a
thread. So one thread owns the model, and others hand it calls (`call`) or work for its pump.

The pump is an object with `has_work()` and `turn()` (CSM's batcher): between calls, while it has work, the thread
runs its turns; when it has none and no call waits, the thread sleeps until `wake()` or a call."""
from __future__ import annotations

import atexit
import logging
import queue
import threading
import weakref
from concurrent.futures import Future

log = logging.getLogger("tts.engine")

_STOP = object()
_WAKE = object()
_LIVE: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    # At interpreter exit no thread may still be inside torch: one that is can abort the process ("terminate
    # called without an active exception") instead of letting it exit cleanly.
    for thread in list(_LIVE):
        thread.close(timeout=10)


class ModelThread:
    def __init__(self, name: str, device: str = "cpu"):
        """`device`: a CUDA device ("cuda:1") becomes this thread's current device before anything runs on it."""
        self.name = name
        self.device = device
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._pump = None
        self._closed = False
        self._broken: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        _LIVE.add(self)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def is_current(self) -> bool:
        return threading.current_thread() is self._thread

    def call(self, fn, *args, **kwargs):
        """Run fn(*args, **kwargs) on the thread (between two turns of the pump); wait for it; return its result
        or raise its exception. Called on the thread itself, it simply runs."""
        if self.is_current:
            return fn(*args, **kwargs)
        if self._closed:
            raise RuntimeError(f"{self.name}: the engine is closed")
        done: Future = Future()
        self._inbox.put((fn, args, kwargs, done))
        return done.result()

    def attach(self, pump) -> None:
        self._pump = pump
        self.wake()

    def wake(self) -> None:
        """Make a sleeping thread look at its pump (new work was given to it)."""
        self._inbox.put(_WAKE)

    def close(self, timeout: float = 30.0) -> None:
        """Stop after the current turn and wait for the thread to end; calls not yet run fail."""
        if self._closed:
            return
        self._closed = True
        self._inbox.put(_STOP)
        if not self.is_current:
            self._thread.join(timeout)

    # -- the thread ---------------------------------------------------------------------------------
    def _run(self) -> None:
        if self.device.startswith("cuda"):
            try:
                import torch

                torch.cuda.set_device(self.device)  # capture, replay and every kernel on this engine's device
            except Exception as e:  # noqa: BLE001 - every call then fails with it
                log.exception("%s: cannot use %s", self.name, self.device)
                self._broken = e
        while True:
            pump = self._pump
            busy = pump is not None and pump.has_work()
            try:
                item = self._inbox.get(block=not busy)
            except queue.Empty:
                item = None
            if item is _STOP:
                break
            if item is not None and item is not _WAKE:
                self._do(*item)
            elif busy:
                self._turn(pump)
        self._drain()

    def _turn(self, pump) -> None:
        try:
            pump.turn()
        except Exception as e:  # noqa: BLE001 - a bug in a turn must not stop the thread every request waits on
            log.exception("%s: a turn of the engine failed; its requests end", self.name)
            try:
                pump.fail_all(e)
            except Exception:  # noqa: BLE001 - nor may ending them
                log.exception("%s: ending the requests of a failed turn failed too", self.name)

    def _do(self, fn, args, kwargs, done: Future) -> None:
        if self._broken is not None:
            done.set_exception(self._broken)
            return
        try:
            done.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - handed to the caller, who raises it
            done.set_exception(e)

    def _drain(self) -> None:
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, tuple):
                item[3].set_exception(RuntimeError(f"{self.name}: the engine is closed"))
