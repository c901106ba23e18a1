"""What a job yields to the door that runs it (queue handler, stream handler, HTTP, WebSocket): audio bytes as they
are made, then how it ended. Doors only translate these into their own shapes."""
from __future__ import annotations

from dataclasses import dataclass, field

from tts.result import Result


@dataclass(frozen=True)
class Started:
    """The request passed validation and its inputs were fetched: synthesis (or the cache) comes next."""
    format: str
    sample_rate: int
    mimetype: str


@dataclass(frozen=True)
class Audio:
    """The next bytes of the file being made (streaming jobs only); all of them joined are one valid file."""
    data: bytes

    def __repr__(self) -> str:  # never print audio
        return f"Audio({len(self.data)} bytes)"


@dataclass(frozen=True)
class Words:
    """A session segment's word timings (asked for with timestamps): [{"word", "start_ms", "end_ms"}] on the
    context's stream clock, sent after the segment's audio."""
    words: tuple[dict, ...]


@dataclass(frozen=True)
class Working:
    """A whole (not streamed) job made another piece of audio. Doors send nothing for it; it is where a job runner
    notices that the job was abandoned (its client left, the SDK stopped it) and stops it, a piece at a time."""


@dataclass(frozen=True)
class Done:
    """The job succeeded: a synthesis's `result` (tts.result.Result: its metadata, and how the audio was delivered
    when the service delivered it) and `data`, the whole audio file; or an action's answer, `action`."""
    result: Result | None = None
    data: bytes = field(default=b"", repr=False)
    action: dict | None = None

    def output(self) -> dict:
        """The job's output JSON."""
        return self.action if self.action is not None else self.result.output()


# What a failure was, for every door to answer in its own terms (tts/doors/answers.py).
KINDS = ("input", "output", "timeout", "busy", "engine", "internal")


@dataclass(frozen=True)
class Failed:
    """The job failed. `kind` (one of KINDS): "input" (a request field is wrong), "output" (the result cannot be
    delivered as asked), "timeout" (past MAX_JOB_SECONDS or a download's deadline), "busy" (no room for the job:
    retry after `retry_after_s`), "engine" (the worker must restart: `refresh_worker`), "internal" (a bug,
    logged; or the volume refused a write: "storage: ...", retryable). `field`: the request field an input error
    names."""
    error: str
    kind: str
    field: str | None = None
    retry_after_s: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown failure kind {self.kind!r}")
