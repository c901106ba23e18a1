"""CSM's real-time path: the frame loop's slots shared by every request (continuous batching), on the engine's model
thread. LoopPath sets it up (compiled, captured as CUDA graphs per row bucket, warmed up); Batcher runs it.

Job threads submit requests (one generated chunk each) and read their audio pieces. The model thread runs the
schedule's turns (csm_schedule.py: the policy) and carries them out here: prefill each new request on its own
into the slot it was given, move requests to pack the busy slots, run one frame step for all of them (on CUDA,
the captured graph of the row bucket), and, when pieces are due, read the due requests' codes from the device
together (one host sync for the step) and decode each request's new frames (csm_decode.py).

A request that fails on its own (its prefill runs out of memory, its consumer goes away, its deadline passes while
it waits for a slot) ends alone. A request made under a job's cancel token (tts/cancel.py: the runner's ticket)
stops when the token is cancelled: its row runs at most the frame step already under way, and its job thread, which
waits for the next piece, wakes at once and raises Cancelled. A failure of the shared step ends every request in it;
a failure that leaves the device unusable (out of memory in the step, any CUDA error) ends them with WorkerPoisoned,
so the worker restarts."""
from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch

from tts import cancel
from tts.engines.base import Piece
from tts.engines.csm_loop import CudaGraphStep, FrameLoop, same_step
from tts.engines.csm_schedule import Job, Schedule, buckets
from tts.errors import EngineError, PromptTooLarge, TimedOut, poisoning

log = logging.getLogger("tts.engine.csm")

_END = object()


class LoopPath:
    """The frame loop for up to `slots` requests at once, as the engine's generation path (CSM_LOOP=loop)."""
    variant = "loop2"   # part of the cache key: loop1 drew 24-bit noise, generate() samples otherwise

    def __init__(self, model, thread, embed: Callable, new_decoder: Callable, device: str, slots: int,
                 compiled: bool, cuda_graphs: bool):
        self.thread, self.device = thread, device
        self.compiled, self.cuda_graphs = compiled, cuda_graphs
        self.max_concurrency = slots
        self.loop = FrameLoop(model, slots=slots)
        step = self.loop.step_fn
        if compiled:
            step = torch.compile(step, fullgraph=True, dynamic=False)
        if cuda_graphs:
            step = CudaGraphStep(step)
        self.loop.use(step)
        self.batcher = Batcher(self.loop, thread, embed, new_decoder, int(model.config.codebook_eos_token_id),
                               on_cuda=device.startswith("cuda"))

    @property
    def busy(self) -> int:
        return self.batcher.busy

    def pieces(self, inputs, frames: int, seed: int, temperature: float, top_k: int,
               deadline: float | None = None) -> Iterator[Piece]:
        return self.batcher.generate(inputs, frames, seed, temperature, top_k, deadline)

    def warm_up(self, prompt) -> str:
        prepared = self.thread.call(self.prepare)
        pieces = list(self.pieces(prompt, frames=8, seed=0, temperature=0.9, top_k=50))
        return (f"frame loop, {self.loop.slots} slots, compiled {self.compiled}, CUDA graphs for rows "
                f"{prepared['graphs']}, seconds per row bucket {prepared['seconds_by_rows']}, {len(pieces)} pieces")

    def prepare(self) -> dict:
        """Every row bucket ready before the first request: compiled, and on CUDA captured as a graph and checked
        against the function it captured on scratch state (a bucket whose replay differs runs without a graph).
        A capture or compilation that fails leaves the frame loop eager, with one warning: the GPU path must
        never keep a worker from starting. On the model thread."""
        loop, timings, kept = self.loop, {}, []
        try:
            for rows in buckets(loop.slots):
                t = time.perf_counter()
                if self.cuda_graphs:
                    loop.run.capture(rows)  # while no slot is active: its warm-up steps change nothing
                    if same_step(loop, loop.run.graphs[rows].replay, loop.run.fn, rows):
                        kept.append(rows)
                    else:
                        loop.run.drop(rows)
                        log.warning("csm: the CUDA graph for %d rows does not replay what it captured; those steps "
                                    "run without a graph", rows)
                elif self.compiled:
                    loop.step(rows)  # compiles this shape now, not in the middle of traffic
                timings[rows] = round(time.perf_counter() - t, 2)
        except Exception as e:  # noqa: BLE001 - any failure here: run eagerly, say so once
            what = "CUDA graph capture" if self.cuda_graphs else "torch.compile"
            log.warning("csm: %s failed (%s: %s); the frame loop runs eagerly (slower, otherwise the same)", what,
                        type(e).__name__, (str(e).strip().splitlines() or [""])[0][:300])
            loop.use(loop.step_fn)
            self.cuda_graphs = self.compiled = False
            kept = []
        for slot in range(loop.slots):
            loop.release(slot)
        return {"seconds_by_rows": timings, "graphs": kept}

    def close(self) -> None:
        if not self.thread.closed:
            self.thread.call(self.batcher.close)


@dataclass(eq=False)
class _Work:
    """What the executor keeps for a request beside the schedule's Job."""
    inputs: object               # the processor's prompt (tokens, context audio)
    seed: int
    temperature: float
    top_k: int
    out: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    decoder: object = None


class Batcher:
    def __init__(self, loop, thread, embed: Callable, new_decoder: Callable, eos: int, on_cuda: bool = False):
        """`loop`: the FrameLoop whose slots are the batch; `thread`: the ModelThread that runs it (this is its
        pump); `embed(inputs)`: a prompt's input embeddings; `new_decoder()`: a streaming decoder for a request;
        `eos`: the codebook's end-of-audio id."""
        self.loop = loop
        self.thread = thread
        self.schedule = Schedule(loop.slots)
        self.embed, self._new_decoder, self._eos, self._on_cuda = embed, new_decoder, eos, on_cuda
        self.steps = 0
        self.peak_batch = 0
        self.on_step: Callable[[list[Job]], None] | None = None  # after each frame step, with the jobs it stepped
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        thread.attach(self)

    # -- the job threads' side -------------------------------------------------------------------
    def generate(self, inputs, frames: int, seed: int, temperature: float, top_k: int,
                 deadline: float | None = None) -> Iterator[Piece]:
        """The request's audio pieces as its frames are decoded; the last one ends the segment. Under a cancel
        token (the job's, tts/cancel.py) that is cancelled, it raises Cancelled at once, and the request's row leaves
        the batch at the next turn."""
        token = cancel.current()
        if token is not None and token.cancelled:
            raise cancel.Cancelled()
        work = _Work(inputs, seed, temperature, top_k)
        job = Job(frames, deadline, work)
        forget = token.on_cancel(lambda: self._cancel(job)) if token is not None else None
        self._inbox.put(job)
        self.thread.wake()
        try:
            while True:
                item = self._next(work)
                if token is not None and token.cancelled:
                    raise cancel.Cancelled()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            job.cancelled = True  # a consumer that stops early frees its slot at the next turn
            if forget is not None:
                forget()

    @staticmethod
    def _cancel(job: Job) -> None:
        """The job's token was cancelled (on the canceller's thread): the schedule drops the job at its next turn
        (after at most the frame step under way), and its job thread stops waiting for the next piece."""
        job.cancelled = True
        job.payload.out.put(_END)

    def _next(self, work: _Work):
        """The request's next piece, error or end; never waits on a model thread that is gone."""
        while True:
            try:
                return work.out.get(timeout=1.0)
            except queue.Empty:
                if not self.thread.alive:
                    return EngineError("the CSM model thread stopped; the worker restarts")

    @property
    def busy(self) -> int:
        return len(self.schedule.busy)

    # -- the model thread's side (the pump) -------------------------------------------------------
    def has_work(self) -> bool:
        return not self._inbox.empty() or self.schedule.has_work()

    def turn(self) -> None:
        """Admit what waits, run one frame step for every busy slot, hand over the pieces that are due."""
        while True:
            try:
                self.schedule.submit(self._inbox.get_nowait())
            except queue.Empty:
                break
        admissions = self.schedule.admit(time.monotonic())
        for slot in admissions.freed:
            self.loop.release(slot)
        for job in admissions.expired:
            self._end(job, TimedOut(f"the job waited past its budget (MAX_JOB_SECONDS) for one of the "
                                    f"{self.loop.slots} generation slots (CSM_BATCH); retry later"))
        for job in admissions.admitted:
            self._prefill(job)
        for src, dst in self.schedule.packing():
            self.loop.move(src, dst)
        rows = self.schedule.rows()
        if not rows:
            return
        self.peak_batch = max(self.peak_batch, self.busy)
        try:
            self.loop.step(rows)
        except Exception as e:  # noqa: BLE001 - the shared step failed: every request in it ends
            self.fail_all(e)
            return
        self.steps += 1
        if self.on_step is not None:
            self.on_step(self.schedule.busy)
        due = self.schedule.advance()
        if due:
            self._hand_over(due)

    def _prefill(self, job: Job) -> None:
        work: _Work = job.payload
        try:
            self.loop.prefill(job.slot, self.embed(work.inputs), work.seed, work.temperature, work.top_k)
            work.decoder = self._new_decoder()
        except Exception as e:  # noqa: BLE001 - this request's own failure, unless the device is gone
            poisoned = poisoning(e)
            self._free(job)
            if isinstance(e, torch.OutOfMemoryError):
                if self._on_cuda:
                    torch.cuda.empty_cache()
                self._end(job, PromptTooLarge(int(work.inputs["input_ids"].shape[1]), self.busy))
            elif poisoned is not None:
                self._end(job, poisoned)
                self.fail_all(e)
            else:
                self._end(job, e)

    def _hand_over(self, due: list[Job]) -> None:
        """Decode each due request's new frames (one read for all) and hand the pieces over."""
        try:
            codes = self.loop.codes_many([(job.slot, job.sent, job.made) for job in due])
            now = time.monotonic()
            for job, frames in zip(due, codes, strict=True):
                work: _Work = job.payload
                stop = _end_of_audio(frames, self._eos)
                slot = job.slot
                done = self.schedule.handed_over(job, stop is not None, now)
                work.out.put(Piece(work.decoder.push(frames[:stop]), ends_segment=done))
                if done:
                    self.loop.release(slot)
                    work.out.put(_END)
        except Exception as e:  # noqa: BLE001 - reading or decoding failed: these requests end (all, if poisoned)
            if poisoning(e) is not None:
                self.fail_all(e)
                return
            log.exception("csm: decoding failed for %d requests", len(due))
            for job in due:
                if job.slot >= 0:
                    self._end(job, e)
                    try:
                        self._free(job)
                    except Exception:  # noqa: BLE001 - the step fails next, and fail_all frees what is left
                        self.schedule.release(job)

    def _free(self, job: Job) -> None:
        if job.slot >= 0:
            self.loop.release(job.slot)
        self.schedule.release(job)

    def _end(self, job: Job, error: BaseException) -> None:
        job.payload.out.put(error)
        job.payload.out.put(_END)

    def fail_all(self, e: Exception) -> None:
        """The shared step (or the device) failed: every request in the batch ends with it, and when the device
        is unusable, every waiting request too."""
        poisoned = poisoning(e)
        if isinstance(e, torch.OutOfMemoryError) and self._on_cuda:
            torch.cuda.empty_cache()
        error = poisoned or e
        log.error("csm frame step failed for %d requests: %r", self.busy, e)
        victims = self.schedule.busy + (list(self.schedule.waiting) if poisoned is not None else [])
        if poisoned is not None:
            self.schedule.waiting.clear()
        for job in victims:  # first every request hears it, then the slots are freed (a device write, may fail)
            self._end(job, error)
        for job in victims:
            try:
                self._free(job)
            except Exception:  # noqa: BLE001 - the device is gone too: the requests have their answer already
                log.exception("csm: could not free slot %d after a failed step", job.slot)
                self.schedule.release(job)

    def close(self) -> None:
        """End every request, running or waiting (on the model thread, before it stops)."""
        while True:
            try:
                self.schedule.submit(self._inbox.get_nowait())
            except queue.Empty:
                break
        error = EngineError("the worker is shutting down")
        for job in [*self.schedule.busy, *self.schedule.waiting]:
            self._free(job)
            self._end(job, error)
        self.schedule.waiting.clear()


def _end_of_audio(codes, eos: int) -> int | None:
    """The index of the first end-of-audio frame in (frames, codebooks) codes, or None. As in transformers'
    generate(): every codebook but the last is the end-of-audio token."""
    hits = (codes[:, :-1] == eos).all(-1).nonzero()
    return int(hits[0, 0]) if len(hits) else None
