"""The HTTP server's app: every route of the HTTP door (http.py), the WebSocket (ws.py) and the OpenAI-compatible
API (openai.py), the API-key guard, and the OpenAPI document of the request schema."""
from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from tts import schema
from tts.doors import openai
from tts.doors.backend import Backend
from tts.doors.guard import RequireKey
from tts.doors.http import generate, generate_audio, generate_stream, health, metrics, ping
from tts.doors.session import ws_session
from tts.doors.ws import ws_generate

_OPEN = ("/ping", "/docs", "/openapi.json")   # no API key needed


def create_app(backend: Backend, health_only: bool = False) -> FastAPI:
    """The app: /ping only on a health port of its own, else every route."""
    app = FastAPI(title="RunPod TTS worker", version="1", docs_url=None if health_only else "/docs",
                  openapi_url=None if health_only else "/openapi.json",
                  description="Text to speech: the queue worker's request schema over HTTP and WebSocket.")
    app.state.backend = backend
    app.add_api_route("/ping", ping, methods=["GET"], include_in_schema=not health_only)
    if health_only:
        return app
    settings = backend.settings
    body = {"requestBody": {"required": True, "content": {"application/json": {"schema": {"oneOf": [
        {"$ref": f"#/components/schemas/{name}"} for name in _REQUEST_MODELS]}}}}}
    audio = {200: {"content": {"audio/*": {}}, "description": "the audio file"}}

    app.add_middleware(RequireKey, settings=settings, open_paths=_OPEN)
    app.add_api_route("/", health, methods=["GET"])
    app.add_api_route("/metrics", metrics, methods=["GET"], include_in_schema=False)
    app.add_api_route("/health", health, methods=["GET"])
    app.add_api_route("/generate", generate, methods=["POST"], openapi_extra=body)
    app.add_api_route("/generate/audio", generate_audio, methods=["POST"], openapi_extra=body, responses=audio)
    app.add_api_route("/generate/stream", generate_stream, methods=["POST"], openapi_extra=body, responses=audio)
    app.add_api_websocket_route("/ws/generate", ws_generate)
    app.add_api_websocket_route("/ws/session", ws_session)
    app.add_api_route("/v1/audio/speech", openai.speech, methods=["POST"], tags=["OpenAI-compatible"])
    app.add_api_route("/v1/models", openai.models, methods=["GET"], tags=["OpenAI-compatible"])
    app.add_api_route("/v1/audio/voices", openai.voices, methods=["GET"], tags=["OpenAI-compatible"])
    app.openapi = lambda: _openapi(app)
    return app


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

