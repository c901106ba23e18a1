"""Errors that become a job's `error` string.

Request errors name a request field. Engine errors say what is wrong in engine terms; the service maps the
ones a request can cause (a prompt too long, a voice not installed) onto the request field to change."""
from __future__ import annotations

import reprlib

MAX_FIELD_CHARS = 120
MAX_MESSAGE_CHARS = 1000


class _Echo(reprlib.Repr):
    """Short reprs of untrusted values: strings and containers cut, huge integers summarized."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxlist, self.maxdict, self.maxstring, self.maxother = 2, 4, 4, 80, 80

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 128:  # repr() of a 5000-digit number raises; nobody wants to read it anyway
            return f"<a {int(x.bit_length() * 0.30103) + 1}-digit number>"
        return repr(x)

    def repr_str(self, x: str, level: int) -> str:
        if len(x) <= self.maxstring:
            return repr(x)  # escapes control characters and lone surrogates
        return f"{repr(x[:self.maxstring])[:-1]}…' ({len(x)} characters)"


_echo = _Echo()


def show(value: object) -> str:
    """A bounded, printable rendering of a request value for an error message."""
    try:
        return _echo.repr(value)
    except Exception:  # noqa: BLE001 - an echo must never be why a request fails
        return f"<a {type(value).__name__}>"


def printable(text: str, limit: int = MAX_FIELD_CHARS) -> str:
    """Text from or about a request, safe to encode, print and log on one line: lone surrogates and control
    characters escaped, at most `limit` characters."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[:limit] + "…"


class InputError(ValueError):
    """A request field is wrong; the message is `"<field>: <what is wrong; what is allowed>"`."""

    def __init__(self, field: str, message: str):
        self.field = printable(field)
        self.message = printable(message, MAX_MESSAGE_CHARS)
        super().__init__(f"{self.field}: {self.message}")


class OutputError(InputError):
    """The result cannot be delivered (too large to return, the bucket refused it)."""

    def __init__(self, message: str):
        super().__init__("output", message)


class TimedOut(InputError):
    """The job ran past its time budget (MAX_JOB_SECONDS) or a download past its deadline."""

    def __init__(self, message: str):
        super().__init__("timeout", message)


class StorageError(RuntimeError):
    """The worker's volume refused to store something (full, over quota, read-only): the worker's failure, not the
    request's, and worth retrying once there is room. The message names no path: clients see it. `full`: freeing
    space (evicting cache entries) may let the write through."""

    def __init__(self, message: str, full: bool = False):
        self.full = full
        super().__init__(message)


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


class UnspeakablePhonemes(EngineError):
    """A pronunciation uses sounds the engine's phoneme alphabet does not have."""

    def __init__(self, ipa: str, symbols: str):
        self.ipa = ipa
        self.symbols = symbols
        super().__init__(f"the pronunciation /{ipa}/ uses sounds this engine cannot make: {symbols}")


class PromptTooLarge(EngineError):
    """The prompt's prefill ran out of device memory beside the requests already running (it failed alone)."""

    def __init__(self, prompt_positions: int, running: int):
        self.prompt_positions = prompt_positions
        self.running = running
        super().__init__(f"out of device memory prefilling a {prompt_positions}-position prompt beside {running} "
                         "running requests")


class PromptTooLong(EngineError):
    """The conditioning prompt leaves too few model positions for the audio the text needs."""

    def __init__(self, prompt_positions: int, max_positions: int, room_s: float, needed_s: float):
        self.prompt_positions = prompt_positions
        self.max_positions = max_positions
        self.room_s = room_s
        self.needed_s = needed_s
        super().__init__(f"the prompt takes {prompt_positions} of {max_positions} positions, leaving {room_s:.1f} s "
                         f"of audio where {needed_s:.1f} s is needed")


# Messages of CUDA failures after which the process's CUDA context is unusable: every later kernel fails too
# ("sticky" errors), so only a new process helps.
_STICKY_CUDA = ("CUDA error", "device-side assert", "illegal memory access", "misaligned address",
                "unspecified launch failure", "CUBLAS_STATUS", "cuDNN error", "uncorrectable ECC error")


def poisoning(error: BaseException) -> WorkerPoisoned | None:
    """The WorkerPoisoned an engine failure amounts to, or None when the worker can go on: out of device memory
    (the allocator may be fragmented beyond repair) and CUDA errors (the context is dead) restart the worker."""
    if isinstance(error, WorkerPoisoned):
        return error
    kind = type(error).__name__
    first = (str(error).strip().splitlines() or [""])[0][:300]
    if kind == "OutOfMemoryError":
        return WorkerPoisoned(f"CUDA out of memory ({first}); the worker restarts. Lower CSM_BATCH, use shorter "
                              "context or reference audio, or a GPU with more memory")
    if kind == "AcceleratorError" or any(s in str(error) for s in _STICKY_CUDA):
        return WorkerPoisoned(f"the GPU failed ({kind}: {first}); the worker restarts")
    return None
