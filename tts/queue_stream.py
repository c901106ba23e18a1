"""The queue's streaming door (HANDLER_MODE=stream): a job's events as RunPod stream items, for /stream/<id>.

Each item is {"seq", "audio_base64", "format", "sample_rate", "done": false}; the last one has "done": true, the
rest of the audio (maybe none) and the job's output metadata. The items' audio_base64, decoded and joined, is one
file of the requested format. A failure is one {"error": ...} item, which ends RunPod's stream and fails the job."""
from __future__ import annotations

import base64
from collections.abc import Iterator

from tts.events import Audio, Done, Failed, Started

MAX_ITEM_AUDIO = 600_000   # raw bytes an item carries: 800 kB of base64 plus the rest stays under RunPod's 1 MB


def stream_items(events: Iterator, on_engine_failure=None) -> Iterator[dict]:
    """RunPod stream items for TTSService.run(..., stream=True, deliver=False) events. `on_engine_failure()` is
    called before the error item of a failure that needs a fresh worker (the SDK ignores refresh_worker in a
    stream's items)."""
    seq, head = 0, {}
    for event in events:
        if isinstance(event, Started):
            head = {"format": event.format, "sample_rate": event.sample_rate}
        elif isinstance(event, Audio):
            for i in range(0, len(event.data), MAX_ITEM_AUDIO):
                yield {"seq": seq, "audio_base64": _b64(event.data[i:i + MAX_ITEM_AUDIO]), **head, "done": False}
                seq += 1
        elif isinstance(event, Failed):
            if event.refresh_worker and on_engine_failure is not None:
                on_engine_failure()
            yield {"error": event.error}
            return
        elif isinstance(event, Done):
            audio = {} if event.action else {"audio_base64": "", **head}
            yield {"seq": seq, **audio, "done": True, **event.result}
            return


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
