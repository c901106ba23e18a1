"""WORKER_MODE=http: the worker as its own HTTP server, for RunPod load-balancing endpoints (and pods).

RunPod routes requests for https://<endpoint id>.api.runpod.ai/<path> straight to this server on $PORT, and polls
GET /ping on $PORT_HEALTH: 204 while the model loads, 200 when ready, anything else takes the worker out of
rotation. Jobs run on job threads behind a bounded line (runner.py): beyond MAX_QUEUE waiting jobs a route answers
429 with Retry-After.

    GET  /ping              health for RunPod's load balancer
    GET  / , /health        the health action's report, plus model_loaded, cuda, endpoints, queue
    GET  /metrics           the worker's numbers in the Prometheus text format
    POST /generate          the queue's input object -> the queue's output JSON (base64 audio, or a bucket URL)
    POST /generate/audio    -> the audio file itself, with its metadata in X-* headers
    POST /generate/stream   -> the audio file as it is made (chunked), playable while it arrives
    WS   /ws/generate       JSON request in -> binary int16 PCM frames out -> {"done": true, ...} (ws.py)
    POST /v1/audio/speech   OpenAI's speech API (openai.py), with GET /v1/models and /v1/audio/voices

Every route takes the same request schema as the queue handler (tts/schema.py, published at /docs)."""
from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute

from tts import formats
from tts.doors.answers import answer, http_headers
from tts.doors.backend import Backend
from tts.doors.guard import unavailable
from tts.doors.jsonbody import TooDeep, parse_json
from tts.doors.relay import Door, relay_async
from tts.events import Audio, Done, Failed, Started
from tts.metrics import CONTENT_TYPE
from tts.result import Result


def error_response(failed: Failed, backend: Backend) -> JSONResponse:
    backend.heard(failed)
    return JSONResponse({"error": failed.error}, answer(failed).http_status, http_headers(failed))


class _Outcome(Door):
    """A whole job's last event."""

    def done(self, event: Done) -> list:
        return [event]

    def failed(self, event: Failed) -> list:
        return [event]


async def run_whole(backend: Backend, request: Request, raw: Any, **run) -> Done | Response:
    """The job's Done, or the response that answers it instead (busy, failed, not ready). A client that leaves
    stops its job at the next piece of audio."""
    if (refusal := unavailable(backend)) is not None:
        return refusal
    ticket = backend.submit(raw, **run)
    if isinstance(ticket, Failed):
        return error_response(ticket, backend)
    outcome = None
    watch = asyncio.create_task(_cancel_when_gone(request, ticket))
    try:
        async for message in relay_async(ticket, _Outcome()):
            outcome = message
    finally:
        watch.cancel()
        ticket.cancel()  # the job ended, or the route was cancelled: nothing more to make
    if isinstance(outcome, Failed):
        return error_response(outcome, backend)
    if outcome is None:
        return JSONResponse({"error": "internal: the job ended without a result"}, 500)
    return outcome


async def _cancel_when_gone(request: Request, ticket) -> None:
    """Starlette does not stop a route whose client disconnects before the response: look for it while the job
    runs."""
    while not ticket.cancelled:
        if await request.is_disconnected():
            ticket.cancel()
            return
        await asyncio.sleep(0.2)


class _Stream(Door):
    """A streamed job: its head (Started) and its bytes; a failure before the first byte is an error response,
    after it the transfer ends incomplete."""

    def started(self, event: Started) -> list:
        return [event]

    def audio(self, event: Audio) -> list:
        return [event.data]

    def done(self, event: Done) -> list:
        return [event] if event.action is not None else []

    def failed(self, event: Failed) -> list:
        return [event]


async def stream_response(backend: Backend, raw: Any, on_failure=None) -> Response:
    """The job's file as it is made (chunked), or the response to a failure before its first byte
    (`on_failure(failed, backend)`: this door's error shape by default)."""
    on_failure = on_failure or error_response
    if (refusal := unavailable(backend)) is not None:
        return refusal
    ticket = backend.submit(raw, stream=True, deliver=False)
    if isinstance(ticket, Failed):
        return on_failure(ticket, backend)
    messages = relay_async(ticket, _Stream()).__aiter__()
    first = await anext(messages, None)
    if isinstance(first, Started):
        head, first = first, await anext(messages, None)
    else:
        head = None
    if isinstance(first, Failed):
        ticket.cancel()
        return on_failure(first, backend)
    if isinstance(first, Done):  # an action
        return JSONResponse(first.output())
    if head is None:
        ticket.cancel()
        return JSONResponse({"error": "internal: the job ended without audio"}, 500)

    async def body():
        try:
            if first is not None:
                yield first
            async for message in messages:
                if isinstance(message, Failed):
                    backend.heard(message)
                    # The status line has gone out: end the transfer without its last chunk, so the client sees
                    # an incomplete response rather than a file that merely looks short.
                    raise RuntimeError(f"the stream failed after it started: {message.error}")
                yield message
        finally:
            ticket.cancel()  # the client went away, or we are done: nothing more to make

    return StreamingResponse(body(), media_type=head.mimetype,
                             headers={"X-Format": head.format, "X-Sample-Rate": str(head.sample_rate)})


async def read_json(request: Request, limit: int) -> Any:
    """The request body as JSON (unwrapping {"input": {...}}), or the error response."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return _too_large(int(declared), limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return _too_large(len(body), limit)
    try:
        raw = parse_json(body)
    except TooDeep as e:
        return JSONResponse({"error": f"input: the body is not a request: {e}"}, 400)
    except ValueError as e:
        return JSONResponse({"error": f"input: the body is not JSON ({e}); send the request's fields as a JSON "
                                      'object, e.g. {"text": "Hello"}'}, 400)
    if isinstance(raw, dict) and list(raw) == ["input"] and isinstance(raw["input"], dict):
        raw = raw["input"]  # the queue's {"input": {...}} envelope, as clients of /runsync send it
    return raw


def size_text(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n:,} bytes"


def _too_large(size: int, limit: int) -> JSONResponse:
    over = "over" if size > limit else "at least"
    return JSONResponse({"error": f"input: the body is {over} {size_text(limit)} ({size_text(size)} so far), past "
                                  f"the limit (MAX_REQUEST_BYTES={limit}); send audio by URL or shorter clips"}, 413)


def metadata_headers(r: Result) -> dict:
    return {"X-Cache-Hit": str(r.cache_hit).lower(), "X-Cache-Key": r.cache_key,
            "X-Duration-Ms": str(r.duration_ms), "X-Sample-Rate": str(r.sample_rate), "X-Format": r.format,
            "X-Generation-Time-Ms": str(r.generation_time_ms)}


def routes(app: FastAPI) -> list[str]:
    """"METHOD /path" of every route the app serves (the docs' own routes included)."""
    out = []
    for r in app.routes:
        if isinstance(r, WebSocketRoute):
            out.append(f"WS {r.path}")
        elif isinstance(r, Route) and r.path != "/docs/oauth2-redirect":
            out += [f"{m} {r.path}" for m in sorted(r.methods - {"HEAD"})]
    return out


async def ping(request: Request) -> Response:
    backend: Backend = request.app.state.backend
    if backend.state == "ready":
        return JSONResponse({"status": "healthy"})
    if backend.state == "initializing":
        return Response(status_code=204)
    return JSONResponse({"status": "unhealthy", "error": backend.error}, 503)


async def health(request: Request) -> JSONResponse:
    backend: Backend = request.app.state.backend
    info = {"model_loaded": backend.state == "ready", "endpoints": routes(request.app)}
    if backend.state != "ready":
        return JSONResponse({"status": backend.state, "error": backend.error, **info, "cuda": False})
    service, runner = backend.service, backend.runner
    report = await asyncio.to_thread(service.actions.health)  # scans the cache directory: off the loop
    return JSONResponse({**report, **info, "cuda": service.engine.device.startswith("cuda"),
                         "queue": {"running": runner.running, "waiting": runner.waiting,
                                   "concurrency": runner.threads, "max_waiting": runner.max_waiting}})


async def metrics(request: Request) -> Response:
    """The worker's numbers in the Prometheus text format: jobs and failures by kind, cache hits and misses, time
    to first audio and real-time factor histograms, jobs running and waiting, the engine's batch occupancy."""
    backend: Backend = request.app.state.backend
    if (refusal := unavailable(backend)) is not None:
        return refusal
    return Response(backend.service.metrics.text(), media_type=CONTENT_TYPE)


async def generate(request: Request) -> Response:
    """The queue's `input` object (or {"input": ...}) -> the queue's output: audio as base64 or a URL."""
    backend: Backend = request.app.state.backend
    raw = await read_json(request, backend.settings.max_request_bytes)
    if isinstance(raw, Response):
        return raw
    done = await run_whole(backend, request, raw)
    return done if isinstance(done, Response) else JSONResponse(done.output())


async def generate_audio(request: Request) -> Response:
    """-> the audio file, with X-Cache-Hit, X-Cache-Key, X-Duration-Ms, X-Sample-Rate headers."""
    backend: Backend = request.app.state.backend
    raw = await read_json(request, backend.settings.max_request_bytes)
    if isinstance(raw, Response):
        return raw
    done = await run_whole(backend, request, raw, deliver=False)
    if isinstance(done, Response):
        return done
    if done.action is not None:
        return JSONResponse(done.action)
    r = done.result
    name = f"{r.cache_key[:16]}.{formats.get(r.format).extension}"
    return Response(done.data, media_type=r.mimetype, headers={
        "Content-Disposition": f'attachment; filename="{name}"', **metadata_headers(r)})


async def generate_stream(request: Request) -> Response:
    """-> the audio file as it is made (chunked transfer): WAV with a streaming header, MP3, Ogg Opus, PCM."""
    backend: Backend = request.app.state.backend
    raw = await read_json(request, backend.settings.max_request_bytes)
    if isinstance(raw, Response):
        return raw
    return await stream_response(backend, raw)
