"""WORKER_MODE=http: the worker as its own HTTP/WebSocket server, for RunPod load-balancing endpoints (and pods).

RunPod routes requests for https://<endpoint id>.api.runpod.ai/<path> straight to this server on $PORT, and polls
GET /ping on $PORT_HEALTH: 204 while the model loads, 200 when ready, anything else takes the worker out of
rotation. The server answers /ping at once and loads the engine on a thread meanwhile. Jobs run on the engine
thread behind a bounded line (tts.runner): beyond MAX_QUEUE waiting requests it answers 429 with Retry-After.

    GET  /ping              health for RunPod's load balancer
    GET  / , /health        the health action's report, plus model_loaded, cuda, endpoints
    POST /generate          the queue's input object -> the queue's output JSON (base64 audio, or a bucket URL)
    POST /generate/audio    -> the audio file itself, with its metadata in X-* headers
    POST /generate/stream   -> the audio file as it is made (chunked), playable while it arrives
    WS   /ws/generate       JSON request in -> binary int16 PCM frames of chunk_ms out -> {"done": true, ...}

Every route takes the same request schema as the queue handler (tts/schema.py, published at /docs)."""
from __future__ import annotations

import asyncio
import itertools
import json
import logging
import secrets
import threading
from typing import Any

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response, StreamingResponse

from tts import schema
from tts.config import Settings
from tts.events import Audio, Done, Failed, Started
from tts.runner import Busy, Runner

log = logging.getLogger("tts.http")

CHUNK_MS = 200
MIN_CHUNK_MS, MAX_CHUNK_MS = 20, 5000
ROUTES = ["GET /ping", "GET /", "GET /health", "POST /generate", "POST /generate/audio", "POST /generate/stream",
          "WS /ws/generate", "GET /docs"]


class Backend:
    """The service once loaded, and the worker's state as /ping reports it: initializing, ready or failed."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.service = None
        self.runner: Runner | None = None
        self.state = "initializing"
        self.error: str | None = None
        self.on_poisoned = lambda: None   # set by serve(): stop taking requests and exit
        self._ids = itertools.count(1)

    def load(self) -> None:
        from tts.service import build_service

        try:
            service = build_service(self.settings)
        except Exception as e:  # noqa: BLE001 - reported by /ping and every route
            self.error = f"worker cannot start: {e}"
            self.state = "failed"
            log.error("%s", self.error)
            return
        self.ready(service)

    def ready(self, service) -> None:
        """Serve with this service from now on."""
        self.service = service
        threads = self.settings.max_concurrency or service.engine.max_concurrency
        self.runner = Runner(threads=threads, max_waiting=self.settings.max_queue)
        self.state = "ready"

    def submit(self, raw: Any, **run) -> Any:
        """A Ticket for the job (tts.runner), or a JSONResponse when the worker cannot take it."""
        if self.state != "ready":
            return self.unavailable()
        job_id = f"http-{next(self._ids)}"
        service = self.service
        try:
            return self.runner.submit(lambda: service.run(raw, job_id, **run))
        except Busy as e:
            return JSONResponse({"error": f"busy: {e}"}, 429, {"Retry-After": str(e.retry_after_s)})

    def unavailable(self) -> JSONResponse:
        if self.state == "initializing":
            return JSONResponse({"error": "initializing: the model is still loading; retry in a few seconds"}, 503,
                                {"Retry-After": "5"})
        return JSONResponse({"error": self.error or "unavailable"}, 503)

    def failed(self, event: Failed) -> JSONResponse:
        if event.refresh_worker:
            self.state, self.error = "failed", f"the engine failed and the worker restarts: {event.error}"
            self.on_poisoned()
        status = 504 if event.field == "timeout" else 400 if event.kind == "input" else 500
        return JSONResponse({"error": event.error}, status)


def create_app(backend: Backend, health_only: bool = False) -> FastAPI:
    settings = backend.settings
    app = FastAPI(title="RunPod TTS worker", version="1", docs_url=None if health_only else "/docs",
                  openapi_url=None if health_only else "/openapi.json",
                  description="Text to speech: the queue worker's request schema over HTTP and WebSocket.")

    @app.get("/ping", include_in_schema=not health_only)
    async def ping() -> Response:
        if backend.state == "ready":
            return JSONResponse({"status": "healthy"})
        if backend.state == "initializing":
            return Response(status_code=204)
        return JSONResponse({"status": "unhealthy", "error": backend.error}, 503)

    if health_only:
        return app

    def authorized(headers, query) -> bool:
        if settings.api_key is None:
            return True
        given = headers.get("authorization", "")
        token = given[7:] if given.lower().startswith("bearer ") else query.get("api_key", "")
        return secrets.compare_digest(token.encode(), settings.api_key.encode())

    @app.middleware("http")
    async def check_key(request: Request, call_next):
        if request.url.path not in ("/ping", "/docs", "/openapi.json") and not authorized(request.headers,
                                                                                          request.query_params):
            return JSONResponse({"error": "unauthorized: send Authorization: Bearer <API_KEY>"}, 401)
        return await call_next(request)

    @app.get("/")
    @app.get("/health")
    async def health() -> JSONResponse:
        info = {"model_loaded": backend.state == "ready", "endpoints": ROUTES}
        if backend.state != "ready":
            return JSONResponse({"status": backend.state, "error": backend.error, **info, "cuda": False})
        service = backend.service
        report = await asyncio.to_thread(service.actions.health)  # scans the cache directory: off the loop
        runner = backend.runner
        return JSONResponse({**report, **info, "cuda": service.engine.device.startswith("cuda"),
                             "queue": {"running": runner.running, "waiting": runner.waiting,
                                       "concurrency": runner.threads, "max_waiting": runner.max_waiting}})

    body_schema = {"requestBody": {"required": True, "content": {"application/json": {"schema": {"oneOf": [
        {"$ref": f"#/components/schemas/{name}"} for name in _REQUEST_MODELS]}}}}}

    async def whole(request: Request, **run) -> Done | Response:
        """The job's Done, or the response that answers it instead (bad body, busy, failed)."""
        raw = await _read_json(request, settings.max_request_bytes)
        if isinstance(raw, Response):
            return raw
        ticket = backend.submit(raw, **run)
        if isinstance(ticket, Response):
            return ticket
        async for event in ticket:
            if isinstance(event, Failed):
                return backend.failed(event)
            if isinstance(event, Done):
                return event
        return JSONResponse({"error": "internal: the job ended without a result"}, 500)

    @app.post("/generate", openapi_extra=body_schema)
    async def generate(request: Request) -> Response:
        """The queue's `input` object (or {"input": ...}) -> the queue's output: audio as base64 or a URL."""
        done = await whole(request)
        return done if isinstance(done, Response) else JSONResponse(done.result)

    @app.post("/generate/audio", openapi_extra=body_schema,
              responses={200: {"content": {"audio/*": {}}, "description": "the audio file"}})
    async def generate_audio(request: Request) -> Response:
        """-> the audio file, with X-Cache-Hit, X-Cache-Key, X-Duration-Ms, X-Sample-Rate headers."""
        done = await whole(request, deliver=False)
        if isinstance(done, Response):
            return done
        if done.action:
            return JSONResponse(done.result)
        r = done.result
        return Response(done.data, media_type=r["mimetype"], headers={
            "Content-Disposition": f'attachment; filename="{r["cache_key"][:16]}.{r["format"]}"',
            **_metadata_headers(r)})

    @app.post("/generate/stream", openapi_extra=body_schema,
              responses={200: {"content": {"audio/*": {}}, "description": "the audio file, chunked as made"}})
    async def generate_stream(request: Request) -> Response:
        """-> the audio file as it is made (chunked transfer): WAV with a streaming header, MP3, Ogg Opus, PCM."""
        raw = await _read_json(request, settings.max_request_bytes)
        if isinstance(raw, Response):
            return raw
        ticket = backend.submit(raw, stream=True, deliver=False)
        if isinstance(ticket, Response):
            return ticket
        started, first = None, None
        async for event in ticket:
            if isinstance(event, Started):
                started = event
                continue
            first = event
            break
        if isinstance(first, Failed):
            return backend.failed(first)
        if isinstance(first, Done) and first.action:
            return JSONResponse(first.result)
        if started is None or first is None:
            ticket.cancel()
            return JSONResponse({"error": "internal: the job ended without audio"}, 500)

        async def body():
            try:
                if isinstance(first, Audio):
                    yield first.data
                async for event in ticket:
                    if isinstance(event, Audio):
                        yield event.data
                    elif isinstance(event, Failed):
                        if event.refresh_worker:
                            backend.failed(event)
                        # The status line has gone out: end the transfer without its last chunk, so the client
                        # sees an incomplete response rather than a file that merely looks short.
                        raise RuntimeError(f"the stream failed after it started: {event.error}")
            finally:
                ticket.cancel()  # the client went away, or we are done: nothing more to make

        return StreamingResponse(body(), media_type=started.mimetype,
                                 headers={"X-Format": started.format, "X-Sample-Rate": str(started.sample_rate)})

    @app.websocket("/ws/generate")
    async def ws_generate(websocket: WebSocket) -> None:
        """Voice agents: send {"text": ..., "speaker_id"?, "chunk_ms"?, ...}; receive binary frames of chunk_ms
        int16 PCM at sample_rate as the audio is made, then a JSON {"done": true, ...}. Errors are a JSON
        {"error": ...} frame and the connection stays open for the next request."""
        if not authorized(websocket.headers, websocket.query_params):
            await websocket.close(code=1008, reason="unauthorized: send Authorization: Bearer <API_KEY>")
            return
        await websocket.accept()
        try:
            while True:
                await _ws_job(websocket, backend, await websocket.receive_text())
        except WebSocketDisconnect:
            return

    app.openapi = lambda: _openapi(app)
    return app


async def _ws_job(websocket: WebSocket, backend: Backend, message: str) -> None:
    try:
        raw = json.loads(message)
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
    if "action" not in raw and "endpoint" not in raw:
        raw.setdefault("format", "pcm")
    ticket = backend.submit(raw, stream=True, deliver=False, forced_format="pcm")
    if isinstance(ticket, Response):
        await websocket.send_text(ticket.body.decode())
        return
    pending, frame = bytearray(), 2 * 24000 * chunk_ms // 1000
    try:
        async for event in ticket:
            if isinstance(event, Started):
                frame = 2 * (event.sample_rate * chunk_ms // 1000)
            elif isinstance(event, Audio):
                pending += event.data
                while len(pending) >= frame:
                    await websocket.send_bytes(bytes(pending[:frame]))
                    del pending[:frame]
            elif isinstance(event, Done):
                if pending:
                    await websocket.send_bytes(bytes(pending))
                await websocket.send_json({"done": True, **event.result})
            elif isinstance(event, Failed):
                await websocket.send_json(json.loads(backend.failed(event).body))
    finally:
        ticket.cancel()


async def _read_json(request: Request, limit: int) -> Any:
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
        raw = json.loads(body)
    except ValueError as e:
        return JSONResponse({"error": f"input: the body is not JSON ({e}); send the request's fields as a JSON "
                                      'object, e.g. {"text": "Hello"}'}, 400)
    if isinstance(raw, dict) and list(raw) == ["input"] and isinstance(raw["input"], dict):
        raw = raw["input"]  # the queue's {"input": {...}} envelope, as clients of /runsync send it
    return raw


def _too_large(size: int, limit: int) -> JSONResponse:
    return JSONResponse({"error": f"input: the body is {size / 1e6:.1f} MB, over the {limit / 1e6:.1f} MB limit "
                                  "(MAX_REQUEST_BYTES); send audio by URL or shorter clips"}, 413)


def _metadata_headers(result: dict) -> dict:
    return {"X-Cache-Hit": str(result["cache_hit"]).lower(), "X-Cache-Key": result["cache_key"],
            "X-Duration-Ms": str(result["duration_ms"]), "X-Sample-Rate": str(result["sample_rate"]),
            "X-Format": result["format"], "X-Generation-Time-Ms": str(result["generation_time_ms"])}


_REQUEST_MODELS = ("SynthesisInput", *(m.__name__ for m in schema.ACTIONS.values()))


def _request_schemas() -> dict[str, dict]:
    """JSON schemas of every request kind and what they refer to, by name, refs into the OpenAPI components."""
    out: dict[str, dict] = {}
    template = "#/components/schemas/{model}"
    synthesis = schema.SynthesisInput.model_json_schema(ref_template=template)
    out.update(synthesis.pop("$defs", {}))
    out["SynthesisInput"] = synthesis
    for name, model in schema.ACTIONS.items():
        s = model.model_json_schema(ref_template=template)
        out.update(s.pop("$defs", {}))
        s["properties"] = {"action": {"const": name, "description": "or endpoint"}, **s.get("properties", {})}
        s["required"] = ["action", *s.get("required", [])]
        out[model.__name__] = s
    return out


def _openapi(app: FastAPI) -> dict:
    if app.openapi_schema is None:
        spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        spec.setdefault("components", {}).setdefault("schemas", {}).update(_request_schemas())
        app.openapi_schema = spec
    return app.openapi_schema


def serve(settings: Settings) -> int:
    """Run the server until SIGTERM/SIGINT, or until an engine failure that needs a fresh worker (then 1)."""
    import contextlib

    import uvicorn

    backend = Backend(settings)
    servers = [uvicorn.Server(uvicorn.Config(create_app(backend), host=settings.host, port=settings.port,
                                             log_level="warning", access_log=False))]
    if settings.port_health is not None:
        health = uvicorn.Server(uvicorn.Config(create_app(backend, health_only=True), host=settings.host,
                                               port=settings.port_health, log_level="warning", access_log=False))
        health.capture_signals = contextlib.nullcontext  # the main server owns SIGTERM and stops this one
        servers.append(health)
    exit_code = 0

    def poisoned() -> None:
        nonlocal exit_code
        exit_code = 1
        servers[0].should_exit = True  # finish what is in flight, then stop: the platform starts a new worker

    backend.on_poisoned = poisoned
    threading.Thread(target=backend.load, name="engine-load", daemon=True).start()
    log.info("serving on http://%s:%d%s; the engine is loading", settings.host, settings.port,
             f", /ping also on port {settings.port_health}" if settings.port_health else "")

    async def main() -> None:
        tasks = [asyncio.create_task(server.serve()) for server in servers]
        await tasks[0]
        for server in servers[1:]:
            server.should_exit = True
        await asyncio.gather(*tasks[1:])

    asyncio.run(main())
    return exit_code
