"""Errors that become a job's `error` string.

Request errors name a request field. Engine errors say what is wrong in engine terms; the service maps the
ones a request can cause (a prompt too long, a voice not installed) onto the request field to change."""
from __future__ import annotations


class InputError(ValueError):
    """A request field is wrong; the message is `"<field>: <what is wrong; what is allowed>"`."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class OutputError(InputError):
    """The result cannot be delivered (too large to return, the bucket refused it)."""

    def __init__(self, message: str):
        super().__init__("output", message)


class EngineError(RuntimeError):
    """The engine could not serve a request that passed validation."""


class WorkerPoisoned(EngineError):
    """The engine's state is no longer trustworthy (CUDA out of memory, say): fail the job and restart the worker."""


class VoiceNotInstalled(EngineError):
    """A voice the engine knows has no model files in this worker (they are never downloaded per request)."""

    def __init__(self, name: str, installed: list[str]):
        self.name = name
        self.installed = installed
        super().__init__(f"voice {name!r} is not installed; installed: {', '.join(installed)}")


class PromptTooLong(EngineError):
    """The conditioning prompt leaves too few model positions for the audio the text needs."""

    def __init__(self, prompt_positions: int, max_positions: int, room_s: float, needed_s: float):
        self.prompt_positions = prompt_positions
        self.max_positions = max_positions
        self.room_s = room_s
        self.needed_s = needed_s
        super().__init__(f"the prompt takes {prompt_positions} of {max_positions} positions, leaving {room_s:.1f} s "
                         f"of audio where {needed_s:.1f} s is needed")
