"""The doors' shared parts (tts/doors/): the job line's limits, the one table of answers, the one event dispatch."""
import asyncio

import pytest

from tts.doors.answers import ANSWERS, queue_output
from tts.doors.relay import Door, relay
from tts.doors.runner import Busy, Runner
from tts.events import KINDS, Audio, Done, Failed, Started


def test_a_burst_in_one_loop_turn_cannot_pass_the_waiting_limit():
    """Jobs not yet picked up by a thread count as waiting: 20 submits in one turn, 1 thread, MAX_QUEUE 2 -> 3."""
    runner = Runner(threads=1, max_waiting=2)

    async def burst():
        accepted, refused = [], []
        for _ in range(20):
            try:
                accepted.append(runner.submit(lambda: iter([Done(action={})])))
            except Busy as e:
                refused.append(e)
        for ticket in accepted:
            async for _ in ticket:
                pass
        return accepted, refused

    try:
        accepted, refused = asyncio.run(burst())
    finally:
        runner.close()
    assert len(accepted) == 3 and len(refused) == 17
    assert "MAX_QUEUE=2" in str(refused[0]) and refused[0].retry_after_s >= 1


def test_a_full_line_says_what_is_running_and_what_the_limit_is():
    e = Busy(running=1, waiting=0, max_waiting=0, retry_after_s=2)
    assert str(e) == "1 jobs are running (MAX_CONCURRENCY) and no waiting line (MAX_QUEUE=0); retry in about 2 s"


def test_a_closed_runner_takes_no_jobs_and_its_threads_end():
    runner = Runner(threads=2, max_waiting=1)
    runner.close()
    assert not any(t.is_alive() for t in runner._threads)

    async def submit():
        runner.submit(lambda: iter([]))

    with pytest.raises(RuntimeError, match="shutting down"):
        asyncio.run(submit())


def test_every_failure_kind_has_an_answer_and_only_engine_failures_restart_the_worker():
    assert set(ANSWERS) == set(KINDS)
    assert {k for k, a in ANSWERS.items() if a.refresh_worker} == {"engine"}
    assert {k: a.http_status for k, a in ANSWERS.items()} == {
        "input": 400, "output": 400, "timeout": 504, "busy": 429, "engine": 500, "internal": 500}
    assert queue_output(Failed("engine: gone", "engine")) == {"error": "engine: gone", "refresh_worker": True}
    assert queue_output(Failed("text: empty", "input", "text")) == {"error": "text: empty"}
    with pytest.raises(ValueError, match="unknown failure kind"):
        Failed("x", "bad")


def test_a_door_gets_each_event_once_in_order_and_nothing_after_the_end():
    class Recorder(Door):
        def started(self, e):
            return [("started", e.format)]

        def audio(self, e):
            return [("audio", len(e.data))]

        def done(self, e):
            return [("done", e.action["n"])]

    events = [Started("wav", 24000, "audio/wav"), Audio(b"ab"), Audio(b"c"), Done(action={"n": 1}), Audio(b"late")]
    assert list(relay(events, Recorder())) == [("started", "wav"), ("audio", 2), ("audio", 1), ("done", 1)]
    with pytest.raises(TypeError, match="not a job event"):
        Door().of("text")


class SlowPieces:
    """An engine stand-in around the real one: every piece takes `delay` s; counts the pieces it made."""

    def __init__(self, engine, delay=0.2):
        self._engine, self.delay, self.made = engine, delay, 0

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def synthesize(self, *args, **kwargs):
        import time

        for piece in self._engine.synthesize(*args, **kwargs):
            time.sleep(self.delay)
            self.made += 1
            yield piece


LONG = " ".join(f"This is sentence number {i} of a long answer." for i in range(12))


def test_a_whole_job_the_sdk_stops_stops_at_its_next_piece(engine, tmp_path):
    """RunPod stops a job (the SDK cancels its task): the job thread must not go on synthesizing the rest."""
    import time

    from cache import AudioCache
    from tests.helpers import make_settings
    from tts.doors.queue import QueueDoor
    from tts.service import TTSService

    slow = SlowPieces(engine)
    service = TTSService(slow, AudioCache(str(tmp_path), 0), make_settings())
    door = QueueDoor(service, service.settings)

    async def stop_early():
        task = asyncio.create_task(door.whole({"id": "j", "input": {"text": LONG, "cache": False}}))
        await asyncio.sleep(0.7)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    try:
        asyncio.run(stop_early())
        end = time.monotonic() + 3
        while door.runner.running and time.monotonic() < end:
            time.sleep(0.02)
        assert door.runner.running == 0
        assert slow.made <= 6 < 12  # stopped a piece after the cancel, not after all twelve sentences
        assert service.cache.stats()["entries"] == 0  # nothing partial was cached
    finally:
        door.runner.close()


def test_a_slow_reader_holds_the_job_back_instead_of_piling_audio_in_memory():
    runner = Runner(threads=1, max_waiting=0)
    made = []

    def job():
        for i in range(40):
            made.append(i)
            yield Audio(b"\0" * (1 << 20))  # 1 MB a piece
        yield Done(action={})

    async def read_slowly():
        ticket = runner.submit(job)
        await asyncio.sleep(1.0)
        held = len(made)
        count = 0
        async for _ in ticket:
            count += 1
        return held, count

    try:
        held, count = asyncio.run(read_slowly())
    finally:
        runner.close()
    assert held <= 6  # ~4 MB unread at most (Ticket.MAX_UNREAD), then the job waits for its reader
    assert count == 41 and len(made) == 40  # and it all arrives once the reader reads


def test_a_process_with_jobs_in_flight_exits_cleanly(tmp_path):
    """A job thread still inside the engine at interpreter exit can abort the process; the runner stops its jobs
    at their next piece and joins its threads at exit."""
    import subprocess
    import sys
    import textwrap

    from tests.helpers import ROOT

    script = textwrap.dedent(f"""
        import asyncio, sys, time
        from cache import AudioCache
        from tests.helpers import make_settings
        from tts.doors.queue import QueueDoor
        from tts.engines.hibari import HibariEngine
        from tts.service import TTSService
        service = TTSService(HibariEngine(make_settings()), AudioCache({str(tmp_path)!r}, 0), make_settings())
        door = QueueDoor(service, service.settings)
        async def main():
            for i in range(2):
                asyncio.create_task(door.whole({{"id": str(i), "input": {{"text": {LONG!r} * 3, "cache": False}}}}))
            await asyncio.sleep(1.0)
            print("exiting with", door.runner.running, "jobs running", flush=True)
        asyncio.run(main())
        sys.exit(0)
    """)
    for _ in range(3):
        done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "jobs running" in done.stdout and "terminate called" not in done.stderr
