"""Gaps in the runpod SDK's job loop (1.12) that this worker closes, applied once before it starts.

A result post whose connection drops (a proxy restart, a network cut) is not retried by the SDK: its retry
client retries 5xx answers only, so the finished job's result is lost and the platform later times the job out.
We retry such posts a few times; a job whose result then still cannot be posted is logged by the SDK as before.
Stream items (HANDLER_MODE=stream) are not retried: a retried item can arrive twice."""
from __future__ import annotations

import asyncio
import logging

log = logging.getLogger("tts.sdk")

ATTEMPTS = 4
FIRST_WAIT_S = 0.5


def retry_dropped_result_posts(attempts: int = ATTEMPTS, first_wait_s: float = FIRST_WAIT_S) -> None:
    from aiohttp import ClientConnectionError
    from runpod.serverless.modules import rp_http

    original = rp_http._transmit
    if getattr(original, "retries_dropped_connections", False):
        return

    async def transmit(session, url, job_data):
        if "isStream=true" in url:
            # A stream item whose post dropped may have arrived: sent again, it would be delivered twice and the
            # joined stream would no longer be one file. Its loss is what the SDK does anyway.
            return await original(session, url, job_data)
        for attempt in range(1, attempts + 1):
            try:
                return await original(session, url, job_data)
            except (TimeoutError, ClientConnectionError) as e:
                if attempt == attempts:
                    raise
                wait = first_wait_s * 2 ** (attempt - 1)
                log.warning("job=%s result post failed (%s: %s); retrying in %.1f s (attempt %d of %d)",
                            session.headers.get("X-Request-ID", "-"), type(e).__name__, e, wait, attempt + 1,
                            attempts)
                await asyncio.sleep(wait)

    transmit.retries_dropped_connections = True
    rp_http._transmit = transmit
