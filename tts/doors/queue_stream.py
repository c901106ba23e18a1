"""The queue's streaming door (HANDLER_MODE=stream): a job's events as RunPod stream items, for /stream/<id>.

Each item is {"seq", "audio_base64", "format", "sample_rate", "done": false}; the last one has "done": true, the
rest of the audio (maybe none) and the job's output metadata. The items' audio_base64, decoded and joined, is one
file of the requested format. A failure is one {"error": ...} item, which ends RunPod's stream and fails the job."""
from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator

from tts.doors.answers import answer
from tts.doors.relay import Door, relay, relay_async
from tts.events import Audio, Done, Failed, Started

MAX_ITEM_AUDIO = 600_000   # raw bytes an item carries: 800 kB of base64 plus the rest stays under RunPod's 1 MB


def stream_items(events: Iterator, on_engine_failure=None) -> Iterator[dict]:
    """RunPod stream items for TTSService.run(..., stream=True, deliver=False) events. `on_engine_failure()` is
    called before the error item of a failure that needs a fresh worker (the SDK ignores refresh_worker in a
    stream's items)."""
    return relay(events, StreamItems(on_engine_failure))


def stream_items_async(events: AsyncIterator, on_engine_failure=None) -> AsyncIterator[dict]:
    """stream_items for events that arrive asynchronously (a runner Ticket)."""
    return relay_async(events, StreamItems(on_engine_failure))


class StreamItems(Door):
    def __init__(self, on_engine_failure=None):
        self.on_engine_failure = on_engine_failure
        self.seq = 0
        self.head: dict = {}

    def started(self, event: Started) -> list[dict]:
        self.head = {"format": event.format, "sample_rate": event.sample_rate}
        return []

    def audio(self, event: Audio) -> list[dict]:
        out = []
        for i in range(0, len(event.data), MAX_ITEM_AUDIO):
            out.append({"seq": self.seq, "audio_base64": _b64(event.data[i:i + MAX_ITEM_AUDIO]), **self.head,
                        "done": False})
            self.seq += 1
        return out

    def done(self, event: Done) -> list[dict]:
        audio = {} if event.action is not None else {"audio_base64": "", **self.head}
        return [{"seq": self.seq, **audio, "done": True, **event.output()}]

    def failed(self, event: Failed) -> list[dict]:
        if answer(event).refresh_worker and self.on_engine_failure is not None:
            self.on_engine_failure()
        return [{"error": event.error}]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
