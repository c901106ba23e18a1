"""OpenAI's speech API, so an unmodified OpenAI SDK program (or anything built on it: Open WebUI, LiveKit and Pipecat
plugins, n8n) can use this worker by pointing its base_url at http(s)://<host>/v1:

    POST /v1/audio/speech   {model, input, voice, response_format, speed, instructions, stream_format}
                            -> the audio as it is made (stream_format "audio", the default), or Server-Sent Events
                               (stream_format "sse": speech.audio.delta with base64 audio, then speech.audio.done)
    GET  /v1/models         the model names it answers to
    GET  /v1/audio/voices   OpenAI's voice names and what each is here (OPENAI_VOICES)

A request becomes the worker's own input (the same schema, cache, limits and metrics as every door); the worker's own
input fields (seed, sample_rate, pronunciations, ...) may be sent beside OpenAI's (the SDK's extra_body). Errors come
in OpenAI's shape, {"error": {"message", "type", "param", "code"}}, with the worker's one-line messages."""
from __future__ import annotations

import base64
import json
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from tts.doors.answers import answer, http_headers
from tts.doors.backend import Backend
from tts.doors.guard import unavailable
from tts.doors.http import read_json, stream_response
from tts.doors.relay import Door, relay_async
from tts.events import Audio, Done, Failed

VOICES = ("alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse", "marin",
          "cedar")
MODELS = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")
SPEEDS = (0.25, 4.0)                 # what OpenAI accepts; the engine's own range is narrower (the schema says)
_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error", 413:
          "invalid_request_error", 429: "rate_limit_error", 500: "server_error", 503: "server_error", 504: "timeout"}
_CODES = {429: "rate_limit_exceeded", 504: "timeout"}
_OPENAI_FIELDS = ("model", "input", "voice", "response_format", "speed", "instructions", "stream_format")


class OpenAIError(ValueError):
    def __init__(self, param: str | None, message: str, status: int = 400):
        self.param, self.status = param, status
        super().__init__(message)


def error(message: str, status: int, param: str | None = None, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": _TYPES.get(status, "server_error"), "param": param,
                                   "code": _CODES.get(status)}}, status, headers)


def failed_response(failed: Failed, backend: Backend) -> JSONResponse:
    backend.heard(failed)
    status = answer(failed).http_status
    return error(failed.error, status, failed.field, http_headers(failed))


def voice_map(backend: Backend) -> dict[str, dict]:
    """Each OpenAI voice name -> the request fields it stands for here: OPENAI_VOICES first, else the engine's own
    voice of that name, else (multi-speaker engines) one speaker each in turn, else the default voice."""
    caps = backend.service.engine.capabilities()
    configured = dict(backend.settings.openai_voices)
    installed = {v.name for v in caps.voices if v.installed}
    out = {}
    for i, name in enumerate(VOICES):
        target = configured.get(name)
        if target is not None:
            out[name] = {"speaker": int(target)} if target.isdigit() else {"voice": target}
        elif name in installed:
            out[name] = {"voice": name}
        elif len(caps.speakers) > 1:
            out[name] = {"speaker": caps.speakers[i % len(caps.speakers)]}
        else:
            out[name] = {}   # the engine's default voice
    return out


def to_input(body: Any, voices: dict[str, dict]) -> dict:
    """An OpenAI speech request -> the worker's input, or OpenAIError naming the parameter."""
    if not isinstance(body, dict):
        raise OpenAIError(None, 'the body must be a JSON object like {"model": "tts-1", "input": "Hello", '
                                '"voice": "alloy"}')
    if not isinstance(body.get("input"), str) or not body["input"].strip():
        raise OpenAIError("input", "required: the text to speak, a non-empty string")
    if "model" in body and not isinstance(body["model"], str):
        raise OpenAIError("model", "must be a model name string, e.g. tts-1")
    out = {k: v for k, v in body.items() if k not in _OPENAI_FIELDS}   # the worker's own fields pass through
    out["text"] = body["input"]
    voice = body.get("voice")
    if isinstance(voice, dict):
        voice = voice.get("id")
        if not isinstance(voice, str) or not voice:
            raise OpenAIError("voice", 'a custom voice is {"id": "<name>"}: a stored or installed voice here')
        out["voice"] = voice
    elif isinstance(voice, str) and voice in voices:
        out.update(voices[voice])
    elif isinstance(voice, str) and voice:
        out["voice"] = voice       # this worker's own voice names work too
    elif voice is not None:
        raise OpenAIError("voice", f"must be one of {', '.join(VOICES)} or a voice of this worker")
    if body.get("response_format") is not None:
        out["response_format"] = body["response_format"]
    elif "format" not in out:
        out["response_format"] = "mp3"     # OpenAI's default, not the worker's
    if body.get("speed") is not None:
        speed = body["speed"]
        if isinstance(speed, bool) or not isinstance(speed, (int, float)) or not SPEEDS[0] <= speed <= SPEEDS[1]:
            raise OpenAIError("speed", f"must be a number from {SPEEDS[0]} to {SPEEDS[1]}; got {speed!r}")
        out["speed"] = speed
    if body.get("instructions"):
        raise OpenAIError("instructions", "this worker's engine does not follow style instructions; remove "
                                          "instructions (the voice and speed are what it takes)")
    return out


async def speech(request: Request) -> Response:
    backend: Backend = request.app.state.backend
    body = await read_json(request, backend.settings.max_request_bytes)
    if isinstance(body, Response):
        return error(json.loads(body.body)["error"], body.status_code)
    if (refusal := unavailable(backend)) is not None:
        return error(json.loads(refusal.body)["error"], refusal.status_code, headers=dict(refusal.headers))
    try:
        raw = to_input(body, voice_map(backend))
        stream_format = body.get("stream_format") or "audio"
        if stream_format not in ("audio", "sse"):
            raise OpenAIError("stream_format", f"must be audio or sse; got {stream_format!r}")
    except OpenAIError as e:
        return error(str(e), e.status, e.param)
    if stream_format == "sse":
        return await _events_response(backend, raw, len(raw["text"]))
    return await stream_response(backend, raw, failed_response)


class _Events(Door):
    """The job as OpenAI's speech events: base64 audio deltas, then done with its usage."""

    def __init__(self, characters: int):
        self.characters = characters

    def audio(self, event: Audio) -> list:
        return [_event({"type": "speech.audio.delta", "audio": base64.b64encode(event.data).decode("ascii")})]

    def done(self, event: Done) -> list:
        # Usage in OpenAI's fields: this worker counts the input's characters, not model tokens.
        usage = {"input_tokens": self.characters, "output_tokens": 0, "total_tokens": self.characters}
        return [_event({"type": "speech.audio.done", "usage": usage})]

    def failed(self, event: Failed) -> list:
        return [event]


def _event(event: dict) -> bytes:
    return f"data: {json.dumps(event, separators=(',', ':'))}\n\n".encode()


async def _events_response(backend: Backend, raw: dict, characters: int) -> Response:
    ticket = backend.submit(raw, stream=True, deliver=False)
    if isinstance(ticket, Failed):
        return failed_response(ticket, backend)
    messages = relay_async(ticket, _Events(characters)).__aiter__()
    first = await anext(messages, None)
    if isinstance(first, Failed):
        ticket.cancel()
        return failed_response(first, backend)

    async def body():
        try:
            if first is not None:
                yield first
            async for message in messages:
                if isinstance(message, Failed):
                    backend.heard(message)
                    status = answer(message).http_status
                    yield _event({"type": "error", "error": {"message": message.error, "type": _TYPES.get(
                        status, "server_error"), "param": message.field, "code": _CODES.get(status)}})
                    return
                yield message
        finally:
            ticket.cancel()

    return StreamingResponse(body(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


async def models(request: Request) -> JSONResponse:
    backend: Backend = request.app.state.backend
    names = [*MODELS, backend.settings.engine]
    return JSONResponse({"object": "list", "data": [{"id": n, "object": "model", "created": 0,
                                                     "owned_by": "runpod-tts-worker"} for n in names]})


async def voices(request: Request) -> JSONResponse:
    backend: Backend = request.app.state.backend
    if (refusal := unavailable(backend)) is not None:
        return error(json.loads(refusal.body)["error"], refusal.status_code)
    mapped = voice_map(backend)
    default = backend.service.engine.default_voice
    return JSONResponse({"voices": [{"id": name, "name": name, "speaks_as": target or {"voice": default}}
                                    for name, target in mapped.items()]})

