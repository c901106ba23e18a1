"""WS /ws/generate: voice agents send one JSON request at a time ({"text": ..., "speaker_id"?, "chunk_ms"?, any
input field}) and receive binary frames of chunk_ms int16 PCM at sample_rate as the audio is made, then a JSON
{"done": true, ...metadata}. A bad request is a JSON {"error": ...} frame and the connection stays open for the
next request."""
from __future__ import annotations

import asyncio

from fastapi import WebSocket, WebSocketDisconnect

from tts.doors.backend import Backend
from tts.doors.guard import UNAUTHORIZED, authorized, unavailable
from tts.doors.jsonbody import TooDeep, parse_json
from tts.doors.relay import Door, relay_async
from tts.events import Audio, Done, Failed, Started

CHUNK_MS = 200
MIN_CHUNK_MS, MAX_CHUNK_MS = 20, 5000


MAX_QUEUED = 16   # requests a client may send ahead of the one running


async def ws_generate(websocket: WebSocket) -> None:
    backend: Backend = websocket.app.state.backend
    if not authorized(backend.settings, websocket.headers, websocket.query_params.get("api_key")):
        await websocket.close(code=1008, reason=UNAUTHORIZED)
        return
    await websocket.accept()
    client = _Client(websocket)
    reader = asyncio.create_task(client.read())
    try:
        while (message := await client.inbox.get()) is not None:
            await _job(websocket, backend, message, client)
    except WebSocketDisconnect:
        return
    finally:
        reader.cancel()


class _Client:
    """What the client sends, read all the time (also while a job runs: a client that leaves stops its job)."""

    def __init__(self, websocket: WebSocket):
        self.websocket = websocket
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.gone = asyncio.Event()

    async def read(self) -> None:
        try:
            while True:
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                if self.inbox.qsize() >= MAX_QUEUED:
                    await self.websocket.close(code=1008, reason=f"more than {MAX_QUEUED} requests waiting")
                    return
                text = message.get("text")
                self.inbox.put_nowait(text if text is not None else message.get("bytes") or b"")
        except (WebSocketDisconnect, RuntimeError):
            return
        finally:
            self.gone.set()
            self.inbox.put_nowait(None)


class _Frames(Door):
    """Audio as frames of chunk_ms (the last one shorter), then the metadata; a failure is an error frame."""

    def __init__(self, backend: Backend, chunk_ms: int):
        self.backend = backend
        self.chunk_ms = chunk_ms
        self.frame = 2 * 24000 * chunk_ms // 1000
        self.pending = bytearray()

    def started(self, event: Started) -> list:
        self.frame = 2 * (event.sample_rate * self.chunk_ms // 1000)
        return []

    def audio(self, event: Audio) -> list:
        self.pending += event.data
        out = []
        while len(self.pending) >= self.frame:
            out.append(bytes(self.pending[:self.frame]))
            del self.pending[:self.frame]
        return out

    def done(self, event: Done) -> list:
        tail = [bytes(self.pending)] if self.pending else []
        return [*tail, {"done": True, **event.output()}]

    def failed(self, event: Failed) -> list:
        self.backend.heard(event)
        return [{"error": event.error}]


async def _job(websocket: WebSocket, backend: Backend, message: str | bytes, client: _Client) -> None:
    if isinstance(message, bytes):
        await websocket.send_json({"error": "input: a binary frame is not a request; send each request as a text "
                                            'frame of JSON, e.g. {"text": "Hello"}'})
        return
    try:
        raw = parse_json(message)
    except TooDeep as e:
        await websocket.send_json({"error": f"input: the message is not a request: {e}"})
        return
    except ValueError as e:
        await websocket.send_json({"error": f"input: not JSON ({e}); send one JSON object per request"})
        return
    if not isinstance(raw, dict):
        await websocket.send_json({"error": 'input: must be a JSON object like {"text": "Hello"}'})
        return
    chunk_ms = raw.pop("chunk_ms", CHUNK_MS)
    if isinstance(chunk_ms, bool) or not isinstance(chunk_ms, int) or not MIN_CHUNK_MS <= chunk_ms <= MAX_CHUNK_MS:
        await websocket.send_json({"error": f"chunk_ms: must be a whole number from {MIN_CHUNK_MS} to "
                                            f"{MAX_CHUNK_MS} (milliseconds of audio per frame); got {chunk_ms!r}"})
        return
    if (refusal := unavailable(backend)) is not None:
        await websocket.send_text(refusal.body.decode())
        return
    if "action" not in raw and "endpoint" not in raw:
        raw.setdefault("format", "pcm")
    ticket = backend.submit(raw, stream=True, deliver=False, forced_format="pcm")
    if isinstance(ticket, Failed):
        await websocket.send_json({"error": ticket.error})
        return
    watch = asyncio.create_task(_cancel_when(client.gone, ticket))
    try:
        async for out in relay_async(ticket, _Frames(backend, chunk_ms)):
            if isinstance(out, bytes):
                await websocket.send_bytes(out)
            else:
                await websocket.send_json(out)
    finally:
        watch.cancel()
        ticket.cancel()


async def _cancel_when(gone: asyncio.Event, ticket) -> None:
    await gone.wait()
    ticket.cancel()  # the client left: its job stops at its next piece (or never starts, if it waits in line)
