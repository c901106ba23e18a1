"""RunPod serverless entry point: one text-to-speech engine loaded at container start, behind one of three doors.

    python handler.py                      # run once on ./test_input.json, audio written to ./output/
    python handler.py --rp_serve_api       # local HTTP API: POST /runsync, /run, /status/{id}, /stream/{id}
    HANDLER_MODE=stream python handler.py  # queue endpoint whose jobs stream audio through /stream/{id}
    WORKER_MODE=http python handler.py     # load-balancing endpoint: FastAPI on $PORT (/ping, /generate, /ws/...)
"""
import importlib
import os
import sys
import threading

from tts.logs import setup_logging

# Deployed: RunPod hands jobs over RUNPOD_WEBHOOK_GET_JOB. Local test run: one job from test_input.json.
DEPLOYED = bool(os.environ.get("RUNPOD_WEBHOOK_GET_JOB"))
LOCAL_TEST_RUN = __name__ == "__main__" and not DEPLOYED and "--rp_serve_api" not in sys.argv \
    and os.environ.get("WORKER_MODE", "").strip().lower() != "http"
if LOCAL_TEST_RUN:
    # The SDK prints the whole result at INFO (base64 audio); keep it to warnings, and write the audio to a
    # file a person can play instead.
    os.environ.setdefault("RUNPOD_LOG_LEVEL", "WARN")
    os.environ.setdefault("OUTPUT_DIR", "output")

setup_logging()

from tts.config import Settings  # noqa: E402  (after logging is configured)


def _stop(problem: Exception) -> None:
    """Configuration or model problems: one clear line, not a traceback."""
    import logging

    logging.getLogger("tts").error("worker cannot start: %s", problem)
    raise SystemExit(1) from None


try:
    SETTINGS = Settings.from_env()
except ValueError as e:
    _stop(e)

if __name__ == "__main__" and SETTINGS.worker_mode == "http":
    from tts.http_app import serve

    raise SystemExit(serve(SETTINGS))  # answers /ping at once and loads the engine meanwhile

from tts.events import Done, Failed  # noqa: E402
from tts.local_run import summary  # noqa: E402
from tts.queue_stream import stream_items, stream_items_async  # noqa: E402
from tts.runner import Runner  # noqa: E402
from tts.service import build_service  # noqa: E402

if __name__ == "__main__":
    # `import runpod` takes ~1 s (py-cpuinfo probes the CPU in a subprocess): overlap it with the engine load.
    # Only after our own imports: a module imported on two threads at once can be seen half-initialized by
    # code that reads sys.modules directly (dataclasses does, for `typing`).
    _sdk_import = threading.Thread(target=importlib.import_module, args=("runpod",), daemon=True)
    _sdk_import.start()

try:
    SERVICE = build_service(SETTINGS)
except (ValueError, RuntimeError) as e:
    _stop(e)


# Jobs run on engine threads, off the SDK's event loop, so that taking jobs, heartbeats and stop signals never wait
# for synthesis; CONCURRENCY jobs at once (the engine's capacity unless MAX_CONCURRENCY says otherwise).
CONCURRENCY = SETTINGS.max_concurrency or SERVICE.engine.max_concurrency
RUNNER = Runner(threads=CONCURRENCY, max_waiting=1000)  # deployed, the SDK hands over at most CONCURRENCY jobs


async def handler(job: dict) -> dict:
    """HANDLER_MODE=dict: the job's output, audio as base64 (or a bucket URL)."""
    job_id = str(job.get("id", "-"))
    progress = _progress_reporter(job) if DEPLOYED else None
    result = {"error": "internal: the job ended without a result"}
    async for event in RUNNER.submit(lambda: SERVICE.run(job.get("input"), job_id, progress)):
        if isinstance(event, Failed):
            result = event.as_output()
        elif isinstance(event, Done):
            result = event.result
    if LOCAL_TEST_RUN:
        print(summary(job_id, result, SETTINGS.output_dir), flush=True)
    return result


async def stream_handler(job: dict):
    """HANDLER_MODE=stream: the job's audio as stream items while it is made (tts.queue_stream)."""
    job_id = str(job.get("id", "-"))
    ticket = RUNNER.submit(lambda: SERVICE.run(job.get("input"), job_id, stream=True, deliver=False))
    try:
        async for item in stream_items_async(ticket, on_engine_failure=_refresh_after_this_job):
            yield item
    finally:
        ticket.cancel()  # the SDK stopped the job (or it ended): nothing more to make


def local_stream_handler(job: dict) -> dict:
    """`python handler.py` in stream mode: the SDK's local run does not iterate generators, so we do."""
    events = SERVICE.run(job.get("input"), str(job.get("id", "-")), stream=True, deliver=False)
    items = list(stream_items(events))
    last = items[-1]
    result = {"error": last["error"]} if "error" in last else {**last, "items": len(items), "audio_base64": ""}
    print(summary(str(job.get("id", "-")), result, SETTINGS.output_dir), flush=True)
    return result


def _progress_reporter(job: dict):
    """Posts IN_PROGRESS updates that /status pollers see (only deployed: locally nobody polls)."""
    import runpod

    return lambda update: runpod.serverless.progress_update(job, update)


def _refresh_after_this_job() -> None:
    # The SDK reads this config key after every job; a stream's items cannot carry refresh_worker themselves.
    CONFIG["refresh_worker"] = True


if SETTINGS.handler_mode == "stream":
    CONFIG = {"handler": local_stream_handler} if LOCAL_TEST_RUN else \
        {"handler": stream_handler, "return_aggregate_stream": True}
else:
    CONFIG = {"handler": handler}
CONFIG["concurrency_modifier"] = lambda current: CONCURRENCY

if __name__ == "__main__":
    _sdk_import.join()
    import runpod

    from tts.sdk_fixes import retry_dropped_result_posts

    retry_dropped_result_posts()
    runpod.serverless.start(CONFIG)
