"""Who is in CSM's next frame step: the batch's scheduling policy as plain data (no torch, no threads).

Each turn of the batch: requests that gave up (cancelled, even during the step before) leave, waiting requests whose
time ran out end, waiting requests take the lowest free slots, the busy slots are packed at the front when that lets
the step run fewer rows, and the step runs the smallest row bucket that holds them. After the step, every busy
request has one more frame; a request gets an audio piece after its 3rd frame, then every 4 frames, and at its end
(none once cancelled). So a request cancelled at any moment runs at most one more frame step: the one under way.

The executor (csm_batch.py) carries the decisions out: prefill, move, step, read and decode."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

FIRST_PIECE_FRAMES = 3   # the first audio leaves after this many of a request's frames (240 ms of audio)
PIECE_FRAMES = 4         # then a piece every this many of its frames: the host looks at the device only then


def is_piece_end(made: int, frames: int) -> bool:
    """Whether a request of `frames` frames gets a piece once it has made `made`: after 3, 7, 11, ..., frames."""
    since_first = made - FIRST_PIECE_FRAMES
    return made >= frames or (since_first >= 0 and since_first % PIECE_FRAMES == 0)


def piece_ends(frames: int) -> list[int]:
    """After how many frames a request of `frames` frames gets each piece."""
    return [made for made in range(1, frames + 1) if is_piece_end(made, frames)]


def buckets(slots: int) -> list[int]:
    """Row counts the step runs with (and, on CUDA, is captured for): powers of two up to `slots`, and `slots`."""
    out, rows = [], 1
    while rows < slots:
        out.append(rows)
        rows *= 2
    return [*out, slots]


@dataclass(eq=False)
class Job:
    """The schedule's view of one request: one generated chunk of up to `frames` frames."""
    frames: int
    deadline: float | None = None      # time.monotonic() by which it must end
    payload: object = None             # the executor's own data (prompt, sampling settings, decoder, queue)
    cancelled: bool = False            # its consumer went away (set from any thread): it leaves at the next turn
    slot: int = -1
    made: int = 0                      # frames generated
    sent: int = 0                      # frames handed over as audio


@dataclass
class Admissions:
    freed: list[int] = field(default_factory=list)      # slots of requests whose consumer went away
    expired: list[Job] = field(default_factory=list)    # waited past their deadline for a slot
    admitted: list[Job] = field(default_factory=list)   # given a slot (job.slot): prefill them


class Schedule:
    def __init__(self, slots: int):
        self.slots: list[Job | None] = [None] * slots
        self.buckets = buckets(slots)
        self.waiting: deque[Job] = deque()

    # -- what there is ----------------------------------------------------------------------------
    @property
    def busy(self) -> list[Job]:
        return [j for j in self.slots if j is not None]

    def has_work(self) -> bool:
        return bool(self.waiting) or any(j is not None for j in self.slots)

    def submit(self, job: Job) -> None:
        self.waiting.append(job)

    # -- a turn -----------------------------------------------------------------------------------
    def admit(self, now: float) -> Admissions:
        """Free the slots of cancelled requests, end waiting ones past their deadline, give free slots (lowest
        first) to the others in arrival order."""
        out = Admissions()
        for job in self.busy:
            if job.cancelled:
                out.freed.append(job.slot)
                self.release(job)
        line, self.waiting = self.waiting, deque()
        for job in line:
            if job.cancelled:
                continue
            if job.deadline is not None and now > job.deadline:
                out.expired.append(job)
            elif None in self.slots:
                job.slot = self.slots.index(None)
                self.slots[job.slot] = job
                out.admitted.append(job)
            else:
                self.waiting.append(job)
        return out

    def packing(self) -> list[tuple[int, int]]:
        """Moves (from slot, to slot) that pack busy slots at the front, only as far as that lowers the row
        bucket; the schedule is updated as if they were done."""
        moves = []
        while self.busy and self.rows() > self._bucket(len(self.busy)):
            src = max(i for i, j in enumerate(self.slots) if j is not None)
            dst = self.slots.index(None)
            job = self.slots[src]
            self.slots[src], self.slots[dst], job.slot = None, job, dst
            moves.append((src, dst))
        return moves

    def rows(self) -> int:
        """The rows the step runs: the smallest bucket that holds every busy slot (0 when none is busy)."""
        busy = [i for i, j in enumerate(self.slots) if j is not None]
        return self._bucket(max(busy) + 1) if busy else 0

    def advance(self) -> list[Job]:
        """After a step: every busy request made one more frame; returns those due a piece now (a request cancelled
        during the step is not: it leaves at the next turn, nothing decoded)."""
        due = []
        for job in self.busy:
            job.made += 1
            if is_piece_end(job.made, job.frames) and not job.cancelled:
                due.append(job)
        return due

    def handed_over(self, job: Job, end_of_audio: bool, now: float) -> bool:
        """A piece of `job` was handed over; returns whether the job is done (its end-of-audio frame came, its
        frames are made, or its deadline passed), in which case its slot is free."""
        job.sent = job.made
        done = end_of_audio or job.made >= job.frames or (job.deadline is not None and now > job.deadline)
        if done:
            self.release(job)
        return done

    def release(self, job: Job) -> None:
        if job.slot >= 0 and self.slots[job.slot] is job:
            self.slots[job.slot] = None
        job.slot = -1

    def _bucket(self, rows: int) -> int:
        return next(b for b in self.buckets if b >= rows)
