"""The one place a job's events (tts.events) are told apart: a door says what it sends for each kind."""
from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator

from tts.events import Audio, Done, Failed, Started, Working


class Door:
    """What one door sends for each event of a job (TTSService.run): every method returns a list of the door's
    own messages (stream items, byte chunks, WebSocket frames, a response), empty when the event sends nothing.
    A job's last event is Done or Failed."""

    def started(self, event: Started) -> list:
        return []

    def audio(self, event: Audio) -> list:
        return []

    def done(self, event: Done) -> list:
        return []

    def failed(self, event: Failed) -> list:
        return []

    def of(self, event) -> list:
        if isinstance(event, Audio):
            return self.audio(event)
        if isinstance(event, Working):
            return []
        if isinstance(event, Started):
            return self.started(event)
        if isinstance(event, Done):
            return self.done(event)
        if isinstance(event, Failed):
            return self.failed(event)
        raise TypeError(f"not a job event: {type(event).__name__}")


def relay(events: Iterable, door: Door) -> Iterator:
    """The door's messages for a job's events, in order, up to its end."""
    for event in events:
        yield from door.of(event)
        if isinstance(event, (Done, Failed)):
            return


async def relay_async(events: AsyncIterator, door: Door) -> AsyncIterator:
    """relay() for events that arrive asynchronously (a runner.Ticket)."""
    async for event in events:
        for message in door.of(event):
            yield message
        if isinstance(event, (Done, Failed)):
            return
