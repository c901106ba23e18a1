"""What the worker changes in the runpod SDK's job loop (tts/sdk_fixes.py), against a loopback server that drops
the first connection of each kind of post after reading it."""
import asyncio
import threading

import pytest

from tests.helpers import QuietHandler, serve
from tts.sdk_fixes import retry_dropped_result_posts


class DropsFirst(QuietHandler):
    seen: list = []
    lock = threading.Lock()

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.lock:
            first = self.path not in self.seen
            self.seen.append(self.path)
        if first:
            self.connection.close()  # read, never answered: the poster cannot know whether it landed
            return
        self.reply(200, b"ok")


def post(url: str):
    from aiohttp import ClientSession
    from runpod.serverless.modules import rp_http

    async def go():
        async with ClientSession() as session:
            await rp_http._transmit(session, url, '{"output": 1}')

    asyncio.run(go())


def test_result_posts_are_retried_after_a_dropped_connection_but_stream_items_never_twice():
    from aiohttp import ClientConnectionError

    retry_dropped_result_posts(first_wait_s=0.01)
    DropsFirst.seen = []
    with serve(DropsFirst) as base:
        post(f"{base}/job-done/1?gpu=x&isStream=false")
        assert DropsFirst.seen.count("/job-done/1?gpu=x&isStream=false") == 2  # dropped, then retried
        with pytest.raises((ClientConnectionError, TimeoutError)):
            post(f"{base}/job-stream/1?gpu=x&isStream=true")
        assert DropsFirst.seen.count("/job-stream/1?gpu=x&isStream=true") == 1  # never sent again
