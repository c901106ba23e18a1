"""The job runner's cancel token (tts/doors/runner.py, tts/cancel.py): the engine's view of a ticket's cancel, without
an engine."""
import asyncio
import threading

from tts import cancel
from tts.doors.runner import Runner


def test_a_job_sees_its_tickets_token_and_a_cancel_reaches_it_at_once():
    """The token is the job thread's current one while the job runs (and only then); the door's cancel sets it and
    runs what the engine hung on it, on the door's thread, without waiting for the job's next event."""
    seen, started, woken = {}, threading.Event(), threading.Event()

    def job():
        token = cancel.current()
        seen["token"] = token
        token.on_cancel(woken.set)
        started.set()
        assert woken.wait(10)  # an engine waiting for its next step: its wait ends by the cancel, not by an event
        seen["cancelled"] = token.cancelled
        raise cancel.Cancelled()
        yield "never"

    async def scenario():
        runner = Runner(threads=1, max_waiting=0)
        try:
            ticket = runner.submit(job)
            assert await asyncio.to_thread(started.wait, 10)
            ticket.cancel()
            return ticket, [e async for e in ticket]
        finally:
            runner.close()

    ticket, events = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert events == []   # Cancelled ends the job quietly: no error event
    assert seen["token"] is ticket.token and seen["cancelled"]
    assert cancel.current() is None


def test_a_token_runs_its_callbacks_once_and_at_once_when_already_cancelled():
    token, calls = cancel.CancelToken(), []
    forget = token.on_cancel(lambda: calls.append("a"))
    token.on_cancel(lambda: calls.append("b"))
    forget()
    token.cancel()
    token.cancel()
    token.on_cancel(lambda: calls.append("late"))
    assert calls == ["b", "late"] and token.cancelled
