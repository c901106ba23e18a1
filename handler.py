"""RunPod serverless entry point: one text-to-speech engine loaded at container start, behind one of three doors.

    python handler.py                      # run once on ./test_input.json, audio written to ./output/
    python handler.py --rp_serve_api       # local HTTP API: POST /runsync, /run, /status/{id}, /stream/{id}
    HANDLER_MODE=stream python handler.py  # queue endpoint whose jobs stream audio through /stream/{id}
    WORKER_MODE=http python handler.py     # load-balancing endpoint: FastAPI on $PORT (/ping, /generate, /ws/...)

The doors live in tts/doors/; this file keeps the shape of a RunPod worker: the service (the model, loaded once)
and the SDK's handler functions."""
import sys

from tts.doors import queue as door

SETTINGS, LOCAL_RUN = door.begin(sys.argv, __name__ == "__main__")
if __name__ == "__main__" and SETTINGS.worker_mode == "http":
    from tts.doors.server import serve

    raise SystemExit(serve(SETTINGS))  # answers /ping at once and loads the engine meanwhile

SDK_IMPORT = door.import_sdk_meanwhile() if __name__ == "__main__" else None
SERVICE = door.load(SETTINGS)
QUEUE = door.QueueDoor(SERVICE, SETTINGS, local_run=LOCAL_RUN)


async def handler(job: dict) -> dict:
    """HANDLER_MODE=dict: the job's output, audio as base64 (or a bucket URL)."""
    return await QUEUE.whole(job)


async def stream_handler(job: dict):
    """HANDLER_MODE=stream: the job's audio as stream items while it is made."""
    async for item in QUEUE.stream(job):
        yield item


if __name__ == "__main__":
    door.start(QUEUE.sdk_config(handler, stream_handler), SDK_IMPORT)
