"""How each door answers a failed job, by the failure's kind (tts.events.Failed.kind): the one table."""
from __future__ import annotations

from dataclasses import dataclass

from tts.events import KINDS, Failed


@dataclass(frozen=True)
class Answer:
    http_status: int
    refresh_worker: bool = False   # the worker must not take more jobs: the queue asks RunPod for a fresh one,
                                   # the HTTP server stops and exits (RunPod starts another)


ANSWERS: dict[str, Answer] = {
    "input": Answer(400),       # the request: a field is wrong
    "output": Answer(400),      # the result cannot be delivered as asked (too large, the bucket refused it)
    "timeout": Answer(504),     # past MAX_JOB_SECONDS, or a download past its deadline
    "busy": Answer(429),        # every job thread busy and the line full: retry after Retry-After
    "engine": Answer(500, refresh_worker=True),   # the engine is unusable (CUDA error, out of memory)
    "internal": Answer(500),    # a bug (logged with its traceback), or the volume refused a write ("storage: ...",
                                # retryable)
}
assert set(ANSWERS) == set(KINDS)


def answer(failed: Failed) -> Answer:
    return ANSWERS[failed.kind]


def queue_output(failed: Failed) -> dict:
    """The queue handler's output for a failed job: RunPod fails the job with `error`; `refresh_worker` makes the
    SDK stop this worker after the job."""
    return {"error": failed.error, "refresh_worker": True} if answer(failed).refresh_worker else {"error": failed.error}


def http_headers(failed: Failed) -> dict[str, str]:
    return {"Retry-After": str(failed.retry_after_s)} if failed.retry_after_s is not None else {}
