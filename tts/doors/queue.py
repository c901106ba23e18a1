"""The queue door: RunPod's job queue through the SDK's handler functions, and `python handler.py`'s local run.

HANDLER_MODE=dict: one output per job (audio as base64 or a bucket URL). HANDLER_MODE=stream: an async generator
whose items RunPod serves at /stream/<id> (queue_stream.py). Jobs run on job threads (runner.py), off the
SDK's event loop, so taking jobs, heartbeats and stop signals never wait for synthesis; the SDK hands the worker
as many jobs at once as the runner has threads (`concurrency_modifier`).

Deployed (RUNPOD_WEBHOOK_GET_JOB set), long jobs post progress updates for /status pollers. Run as
`python handler.py` with no API flag, the SDK runs one job from test_input.json: the audio goes to ./output/ and
the last line printed is one about the result."""
from __future__ import annotations

import asyncio
import atexit
import dataclasses
import importlib
import logging
import threading
import weakref

from tts.config import Settings
from tts.doors.answers import queue_output
from tts.doors.queue_stream import stream_items, stream_items_async
from tts.doors.relay import Door, relay_async
from tts.doors.runner import Busy, job_runner
from tts.events import Done, Failed
from tts.local_run import summary

log = logging.getLogger("tts.queue")


def begin(argv: list[str], main: bool) -> tuple[Settings, bool]:
    """The worker's settings (read from the environment once) and whether this is a local test run (`python
    handler.py` with no API flag: the SDK runs one job from test_input.json and exits). Logging is set up; a bad
    setting stops the process with one clear line."""
    from tts.logs import setup_logging

    try:
        settings, problem = Settings.from_env(), None
    except ValueError as e:
        settings, problem = None, e
    local = settings is not None and main and not settings.deployed and "--rp_serve_api" not in argv \
        and settings.worker_mode != "http"
    # A local run prints one line about its job; the SDK would print the whole result (base64 audio) at INFO.
    setup_logging(sdk_level="WARN" if local else "INFO")
    if problem is not None:
        stop(problem)
    if local and not settings.output_dir:
        settings = dataclasses.replace(settings, output_dir="output")  # where a local run writes its audio
    return settings, local


def load(settings: Settings):
    """The service with its engine, loaded once per container (the singleton model); a misconfigured worker
    (unknown engine, missing model) stops with one clear line."""
    from tts.service import build_service

    try:
        return build_service(settings)
    except (ValueError, RuntimeError) as e:
        stop(e)


def stop(problem: Exception) -> None:
    """Configuration or model problems: one clear line, not a traceback."""
    log.error("worker cannot start: %s", problem)
    raise SystemExit(1) from None


class _Output(Door):
    """A whole job's output dict: the result, or the failure's queue output."""

    def done(self, event: Done) -> list:
        return [event.output()]

    def failed(self, event: Failed) -> list:
        return [queue_output(event)]


class QueueDoor:
    def __init__(self, service, settings: Settings, local_run: bool = False):
        self.service = service
        self.settings = settings
        self.local_run = local_run
        self.runner = job_runner(service)
        self.config: dict = {}   # the SDK's config (start() fills it); the SDK reads refresh_worker after each job

    # -- the SDK's handler functions (handler.py wraps them as module-level functions) ------------------
    async def whole(self, job: dict) -> dict:
        """HANDLER_MODE=dict: the job's output, audio as base64 (or a bucket URL)."""
        job_id = str(job.get("id", "-"))
        progress = _progress_reporter(job) if self.settings.deployed else None
        result = {"error": "internal: the job ended without a result"}
        try:
            ticket = self.runner.submit(lambda: self.service.run(job.get("input"), job_id, progress))
        except Busy as e:
            return queue_output(Failed(f"busy: {e}", "busy", retry_after_s=e.retry_after_s))
        try:
            async for output in relay_async(ticket, _Output()):
                result = output
        finally:
            ticket.cancel()  # the SDK stopped the job (or it ended): nothing more to make
        if self.local_run:
            _say(job_id, result, self.settings.output_dir)
        return result

    async def stream(self, job: dict):
        """HANDLER_MODE=stream: the job's audio as stream items while it is made."""
        job_id = str(job.get("id", "-"))
        ticket = self.runner.submit(lambda: self.service.run(job.get("input"), job_id, stream=True, deliver=False))
        try:
            async for item in stream_items_async(ticket, on_engine_failure=self._refresh_after_this_job):
                yield item
        finally:
            ticket.cancel()

    def local_stream(self, job: dict) -> dict:
        """`python handler.py` in stream mode: the SDK's local run does not iterate generators, so we do."""
        job_id = str(job.get("id", "-"))
        items = list(stream_items(self.service.run(job.get("input"), job_id, stream=True, deliver=False)))
        last = items[-1]
        result = {"error": last["error"]} if "error" in last else {**last, "items": len(items), "audio_base64": ""}
        _say(job_id, result, self.settings.output_dir)
        return result

    def _refresh_after_this_job(self) -> None:
        # A stream's items cannot carry refresh_worker: the SDK reads this config key after every job instead.
        self.config["refresh_worker"] = True

    # -- starting the SDK ---------------------------------------------------------------------------
    def sdk_config(self, handler, stream_handler) -> dict:
        """The config runpod.serverless.start takes, for this worker's HANDLER_MODE."""
        if self.settings.handler_mode == "stream":
            self.config.update({"handler": self.local_stream} if self.local_run else
                               {"handler": stream_handler, "return_aggregate_stream": True})
        else:
            self.config["handler"] = handler
        self.config["concurrency_modifier"] = lambda current: self.runner.threads
        return self.config


def _progress_reporter(job: dict):
    """Posts IN_PROGRESS updates that /status pollers see (only deployed: locally nobody polls)."""
    import runpod

    return lambda update: runpod.serverless.progress_update(job, update)


def _say(job_id: str, result: dict, output_dir: str | None) -> None:
    """The local run's one line about its job, printed last: for a failed job, at exit, after the SDK's own
    error line."""
    line = summary(job_id, result, output_dir)
    if "error" in result:
        atexit.register(print, line, flush=True)
    else:
        print(line, flush=True)


def import_sdk_meanwhile() -> threading.Thread:
    """`import runpod` takes ~1 s (py-cpuinfo probes the CPU in a subprocess): start it beside the engine load.
    Only after our own imports: a module imported on two threads at once can be seen half-initialized by code
    that reads sys.modules directly (dataclasses does, for `typing`)."""
    thread = threading.Thread(target=importlib.import_module, args=("runpod",), name="sdk-import", daemon=True)
    thread.start()
    return thread


def start(config: dict, sdk_import: threading.Thread | None = None) -> None:
    """Hand the worker to the SDK's job loop (deployed, local API or local test run, as its argv says)."""
    if sdk_import is not None:
        sdk_import.join()
    import runpod

    from tts.sdk_fixes import retry_dropped_result_posts

    retry_dropped_result_posts()
    runpod.serverless.start(config)


_DOORS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def queue_job(service, raw, job_id: str = "-") -> dict:
    """One job through the queue door from synchronous code (tests, benchmarks, tools), exactly as the SDK's
    handler function runs it: its output dict. Runs an event loop of its own, so not from inside one."""
    door = _DOORS.get(service)
    if door is None:
        door = _DOORS[service] = QueueDoor(service, service.settings)
        weakref.finalize(service, door.runner.close, 0)
    return asyncio.run(door.whole({"id": job_id, "input": raw}))
