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
