"""Who may use the HTTP and WebSocket routes, and when: the API key, and the worker's state."""
from __future__ import annotations

import secrets

from fastapi.responses import JSONResponse
from starlette.datastructures import Headers

from tts.doors.backend import Backend

UNAUTHORIZED = "unauthorized: send Authorization: Bearer <API_KEY>"


def authorized(settings, headers, token_in_query: str | None = None) -> bool:
    """Whether the request carries the API key (when one is set): `Authorization: Bearer <key>`, or for the
    WebSocket, whose browser clients cannot send headers, `?api_key=` (the only route that reads it: keys in URLs
    end up in logs)."""
    if settings.api_key is None:
        return True
    given = headers.get("authorization", "")
    token = given[7:] if given.lower().startswith("bearer ") else (token_in_query or "")
    return secrets.compare_digest(token.encode(), settings.api_key.encode())


def unavailable(backend: Backend) -> JSONResponse | None:
    """The answer to any job route while the worker cannot serve (loading, failed), else None."""
    if backend.state == "initializing":
        return JSONResponse({"error": "initializing: the model is still loading; retry in a few seconds"}, 503,
                            {"Retry-After": "5"})
    if backend.state != "ready":
        return JSONResponse({"error": backend.error or "unavailable"}, 503)
    return None


class RequireKey:
    """ASGI middleware: HTTP routes other than `open_paths` need the API key (the WebSocket route checks it
    itself). Plain ASGI, not Starlette's BaseHTTPMiddleware, which hides a client's disconnect from the routes."""

    def __init__(self, app, settings, open_paths: tuple[str, ...]):
        self.app, self.settings, self.open_paths = app, settings, open_paths

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"] not in self.open_paths and \
                not authorized(self.settings, Headers(scope=scope)):
            await JSONResponse({"error": UNAUTHORIZED}, 401)(scope, receive, send)
            return
        await self.app(scope, receive, send)
