"""Continuous batching for CSM: one thread owns the model and advances every request's frame together.

Requests (one generated chunk each) come from job threads. The batch thread prefills each new one on its own into a
free slot of the frame loop's static caches, at a frame boundary; then every step runs the frame step once for the
whole batch (on CUDA, the captured graph of the smallest row bucket that holds the busy slots). Each request keeps
its own sampling settings, seed, frame budget and end of audio, gets its audio pieces decoded as its frames arrive,
and leaves its slot free when it ends, so another can join at the next step.

Audio pieces: a request's first piece after its 3rd frame, then one every 4 frames, and one at its end; the codes
of all requests due at a step are read from the device together (one host sync for the step).

A request that fails on its own (its prefill runs out of memory, its consumer goes away, its deadline passes while
it waits for a slot) ends alone; only a failure of the shared step ends the whole batch."""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

from tts.engines.base import Piece
from tts.engines.csm_decode import StreamingDecoder
from tts.errors import PromptTooLarge, TimedOut, WorkerPoisoned

log = logging.getLogger("tts.engine.csm")

FIRST_PIECE_FRAMES = 3   # the first audio leaves after this many of a request's frames (240 ms of audio)
PIECE_FRAMES = 4         # then a piece every this many steps of the batch: the host looks at the device only then
_END = object()


def piece_ends(frames: int) -> list[int]:
    """After how many frames a lone request of `frames` frames gets each piece: 3, 7, 11, ..., frames."""
    ends = list(range(FIRST_PIECE_FRAMES, frames, PIECE_FRAMES))
    return [*ends, frames] if frames > 0 else []


def buckets(slots: int) -> list[int]:
    """Row counts the step runs with (and, on CUDA, is captured for): powers of two up to `slots`, and `slots`."""
    out, rows = [], 1
    while rows < slots:
        out.append(rows)
        rows *= 2
    return [*out, slots]


@dataclass(eq=False)
class _Request:
    inputs: object               # the processor's prompt (tokens, context audio)
    frames: int                  # the frame budget
    seed: int
    temperature: float
    top_k: int
    deadline: float | None
    out: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    cancelled: bool = False
    slot: int = -1
    made: int = 0                # frames generated
    sent: int = 0                # frames decoded and handed over
    decoder: StreamingDecoder | None = None


class Batcher:
    def __init__(self, engine, loop):
        """`engine`: the CsmEngine (for embed and the codec); `loop`: its FrameLoop, whose slots are the batch."""
        self.engine = engine
        self.loop = loop
        self.buckets = buckets(loop.slots)
        self.steps = 0
        self.peak_batch = 0
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._slots: list[_Request | None] = [None] * loop.slots
        self._thread = threading.Thread(target=self._run, name="csm-batch", daemon=True)
        self._thread.start()

    # -- the job threads' side -------------------------------------------------------------------
    def generate(self, inputs, frames: int, seed: int, temperature: float, top_k: int,
                 deadline: float | None = None) -> Iterator[Piece]:
        """The request's audio pieces as its frames are decoded; the last one ends the segment."""
        request = _Request(inputs, frames, seed, temperature, top_k, deadline)
        self._inbox.put(request)
        try:
            while (item := request.out.get()) is not _END:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            request.cancelled = True  # a consumer that stops early frees its slot at the next step

    @property
    def busy(self) -> int:
        return sum(r is not None for r in self._slots)

    # -- the batch thread ------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            try:
                self._turn()
            except Exception as e:  # noqa: BLE001 - a bug here must not leave every later request waiting forever
                log.exception("csm batch loop failed; its requests end")
                self._fail_all(e)

    def _turn(self) -> None:
        """Admit what waits, run one frame step for every busy slot, hand over the pieces that are due."""
        if not self.busy:
            self._admit(self._inbox.get())  # idle: wait for work
        self._admit_waiting()
        self._drop_cancelled()
        if not self.busy:
            return
        rows = next(b for b in self.buckets if b > max(i for i, r in enumerate(self._slots) if r is not None))
        self.peak_batch = max(self.peak_batch, self.busy)
        try:
            self.loop.step(rows)
        except Exception as e:  # noqa: BLE001 - the shared step failed: every request in it ends
            self._fail_all(e)
            return
        self.steps += 1
        for r in self._slots:
            if r is not None:
                r.made += 1
        due = [r for r in self._slots if r is not None and self._due(r)]
        if due:
            self._hand_over(due)

    def _admit_waiting(self) -> None:
        while None in self._slots:
            try:
                request = self._inbox.get_nowait()
            except queue.Empty:
                return
            self._admit(request)
        now = time.monotonic()  # requests still waiting for a slot: end those whose time is up
        waiting = []
        while True:
            try:
                waiting.append(self._inbox.get_nowait())
            except queue.Empty:
                break
        for r in waiting:
            if r.deadline is not None and now > r.deadline:
                self._end(r, TimedOut(f"the job waited past its budget (MAX_JOB_SECONDS) for one of the "
                                      f"{self.loop.slots} generation slots (CSM_BATCH); retry later"))
            elif not r.cancelled:
                self._inbox.put(r)

    def _admit(self, r: _Request) -> None:
        if r.cancelled:
            return
        slot = self._slots.index(None)
        try:
            self.loop.prefill(slot, self.engine.embed(r.inputs), r.seed, r.temperature, r.top_k)
        except torch.OutOfMemoryError:
            if str(self.engine.device).startswith("cuda"):
                torch.cuda.empty_cache()
            self._end(r, PromptTooLarge(int(r.inputs["input_ids"].shape[1]), self.busy))
            return
        except Exception as e:  # noqa: BLE001 - this request's own failure
            self._end(r, e)
            return
        r.slot, r.decoder = slot, StreamingDecoder(self.engine.model.codec_model)
        self._slots[slot] = r

    @staticmethod
    def _due(r: _Request) -> bool:
        since_first = r.made - FIRST_PIECE_FRAMES
        return r.made >= r.frames or (since_first >= 0 and since_first % PIECE_FRAMES == 0)

    def _hand_over(self, due: list[_Request]) -> None:
        """Decode each due request's new frames (one read for all) and hand the pieces over."""
        try:
            codes = self.loop.codes_many([(r.slot, r.sent, r.made) for r in due])
            for r, frames in zip(due, codes, strict=True):
                stop = _end_of_audio(frames, self.engine.eos)
                finished = stop is not None or r.made >= r.frames
                r.out.put(Piece(r.decoder.push(frames[:stop]), ends_segment=finished))
                r.sent = r.made
                if finished or (r.deadline is not None and time.monotonic() > r.deadline):
                    self._release(r)
                    r.out.put(_END)
        except Exception as e:  # noqa: BLE001 - reading or decoding failed: these requests end
            for r in due:
                if r.slot >= 0:
                    self._release(r)
                    self._end(r, e)

    def _drop_cancelled(self) -> None:
        for r in self._slots:
            if r is not None and r.cancelled:
                self._release(r)

    def _release(self, r: _Request) -> None:
        if r.slot >= 0:
            self.loop.release(r.slot)
            self._slots[r.slot] = None
            r.slot = -1

    def _end(self, r: _Request, error: BaseException) -> None:
        r.out.put(error)
        r.out.put(_END)

    def _fail_all(self, e: Exception) -> None:
        if isinstance(e, torch.OutOfMemoryError):
            if str(self.engine.device).startswith("cuda"):
                torch.cuda.empty_cache()
            e = WorkerPoisoned(f"CUDA out of memory in a frame step of {self.busy} requests; the worker restarts. "
                               "Lower CSM_BATCH, or use a GPU with more memory")
        log.error("csm frame step failed for %d requests: %r", self.busy, e)
        for r in self._slots:
            if r is not None:
                self._release(r)
                self._end(r, e)


def _end_of_audio(codes, eos: int) -> int | None:
    """The index of the first end-of-audio frame in (frames, codebooks) codes, or None. As in transformers'
    generate(): every codebook but the last is the end-of-audio token."""
    hits = (codes[:, :-1] == eos).all(-1).nonzero()
    return int(hits[0, 0]) if len(hits) else None
