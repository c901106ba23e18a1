"""RunPod serverless entry point: one text-to-speech engine loaded at container start, one handler.

    python handler.py                      # run once on ./test_input.json, audio written to ./output/
    python handler.py --rp_serve_api       # local HTTP API: POST /runsync, /run, /status/{id}
"""
import importlib
import os
import sys
import threading

from tts.logs import setup_logging

if __name__ == "__main__" and not os.environ.get("RUNPOD_WEBHOOK_GET_JOB") and "--rp_serve_api" not in sys.argv:
    # Local test run: the SDK prints the whole result at INFO (base64 audio); keep it to warnings,
    # and write the audio to a file a person can play instead.
    os.environ.setdefault("RUNPOD_LOG_LEVEL", "WARN")
    os.environ.setdefault("OUTPUT_DIR", "output")

setup_logging()

if __name__ == "__main__":
    # `import runpod` takes ~1 s (py-cpuinfo probes the CPU in a subprocess): overlap it with the engine load.
    _sdk_import = threading.Thread(target=importlib.import_module, args=("runpod",), daemon=True)
    _sdk_import.start()

from tts.service import build_service  # noqa: E402  (after logging is configured)

try:
    SERVICE = build_service()
except (ValueError, RuntimeError) as e:  # configuration or model problems: one clear line, not a traceback
    import logging

    logging.getLogger("tts").error("worker cannot start: %s", e)
    raise SystemExit(1) from None


def handler(job: dict) -> dict:
    return SERVICE.handle(job.get("input"), str(job.get("id", "-")), progress=_progress_reporter(job))


def _progress_reporter(job: dict):
    """Posts IN_PROGRESS updates that /status pollers see; only when deployed (locally nobody polls, and
    the SDK would post to a placeholder URL)."""
    if not os.environ.get("RUNPOD_WEBHOOK_POST_OUTPUT"):
        return None
    import runpod

    return lambda update: runpod.serverless.progress_update(job, update)


if __name__ == "__main__":
    _sdk_import.join()
    import runpod

    runpod.serverless.start({"handler": handler})
