"""RunPod serverless entry point: one text-to-speech engine loaded at container start, one handler.

    python handler.py                      # run once on ./test_input.json, audio written to ./output/
    python handler.py --rp_serve_api       # local HTTP API: POST /runsync, /run, /status/{id}
"""
import importlib
import os
import sys
import threading

from tts.logs import setup_logging

# Deployed: RunPod hands jobs over RUNPOD_WEBHOOK_GET_JOB. Local test run: one job from test_input.json.
DEPLOYED = bool(os.environ.get("RUNPOD_WEBHOOK_GET_JOB"))
LOCAL_TEST_RUN = __name__ == "__main__" and not DEPLOYED and "--rp_serve_api" not in sys.argv
if LOCAL_TEST_RUN:
    # The SDK prints the whole result at INFO (base64 audio); keep it to warnings, and write the audio to a
    # file a person can play instead.
    os.environ.setdefault("RUNPOD_LOG_LEVEL", "WARN")
    os.environ.setdefault("OUTPUT_DIR", "output")

setup_logging()

from tts.config import Settings  # noqa: E402  (after logging is configured)
from tts.local_run import summary  # noqa: E402
from tts.service import build_service  # noqa: E402

if __name__ == "__main__":
    # `import runpod` takes ~1 s (py-cpuinfo probes the CPU in a subprocess): overlap it with the engine load.
    # Only after our own imports: a module imported on two threads at once can be seen half-initialized by
    # code that reads sys.modules directly (dataclasses does, for `typing`).
    _sdk_import = threading.Thread(target=importlib.import_module, args=("runpod",), daemon=True)
    _sdk_import.start()

try:
    SETTINGS = Settings.from_env()
    SERVICE = build_service(SETTINGS)
except (ValueError, RuntimeError) as e:  # configuration or model problems: one clear line, not a traceback
    import logging

    logging.getLogger("tts").error("worker cannot start: %s", e)
    raise SystemExit(1) from None


def handler(job: dict) -> dict:
    job_id = str(job.get("id", "-"))
    result = SERVICE.handle(job.get("input"), job_id, progress=_progress_reporter(job) if DEPLOYED else None)
    if LOCAL_TEST_RUN:
        print(summary(job_id, result, SETTINGS.output_dir), flush=True)
    return result


def _progress_reporter(job: dict):
    """Posts IN_PROGRESS updates that /status pollers see (only deployed: locally nobody polls)."""
    import runpod

    return lambda update: runpod.serverless.progress_update(job, update)


if __name__ == "__main__":
    _sdk_import.join()
    import runpod

    from tts.sdk_fixes import retry_dropped_result_posts

    retry_dropped_result_posts()
    runpod.serverless.start({"handler": handler})
