"""What stands behind the HTTP door: the service once loaded, its job runner, and the worker's state as /ping
reports it (initializing, ready, failed)."""
from __future__ import annotations

import itertools
import logging
from typing import Any

from tts.config import Settings
from tts.doors.answers import answer
from tts.doors.runner import Busy, Runner, Ticket, job_runner
from tts.events import Failed

log = logging.getLogger("tts.http")


class Backend:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.service = None
        self.runner: Runner | None = None
        self.state = "initializing"
        self.error: str | None = None
        self.on_poisoned = lambda: None   # set by server.serve(): stop taking requests and exit
        self._ids = itertools.count(1)

    def load(self) -> None:
        """Load the engine and serve with it (on a thread of its own: /ping answers meanwhile)."""
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
        self.runner = job_runner(service)
        self.state = "ready"

    def submit(self, raw: Any, **run) -> Ticket | Failed:
        """A Ticket for the job (runner.py), or why the worker cannot take it now (busy)."""
        job_id = f"http-{next(self._ids)}"
        service = self.service
        try:
            return self.runner.submit(lambda: service.run(raw, job_id, **run))
        except Busy as e:
            return Failed(f"busy: {e}", "busy", retry_after_s=e.retry_after_s)

    def heard(self, failed: Failed) -> None:
        """A job failed: a failure that needs a fresh worker takes this one out of rotation."""
        if answer(failed).refresh_worker and self.state != "failed":
            self.state, self.error = "failed", f"the engine failed and the worker restarts: {failed.error}"
            self.on_poisoned()
