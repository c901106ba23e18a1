"""Serving the HTTP door (WORKER_MODE=http) with uvicorn: the app on $PORT, /ping also on $PORT_HEALTH when it
differs, the engine loading meanwhile; SIGTERM stops it, and so does an engine failure that needs a fresh worker
(exit code 1: RunPod starts another)."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

from tts.config import Settings
from tts.doors.app import create_app
from tts.doors.backend import Backend

log = logging.getLogger("tts.http")


def serve(settings: Settings) -> int:
    """Run the server until SIGTERM/SIGINT (then 0), or until an engine failure that needs a fresh worker (1)."""
    import uvicorn

    backend = Backend(settings)

    def server(app, port: int):
        return uvicorn.Server(uvicorn.Config(app, host=settings.host, port=port, log_level="warning",
                                             access_log=False))

    servers = [server(create_app(backend), settings.port)]
    if settings.port_health is not None:
        health = server(create_app(backend, health_only=True), settings.port_health)
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
        tasks = [asyncio.create_task(s.serve()) for s in servers]
        await tasks[0]
        for s in servers[1:]:
            s.should_exit = True
        await asyncio.gather(*tasks[1:])

    asyncio.run(main())
    if backend.service is not None:
        backend.service.close()
    return exit_code
