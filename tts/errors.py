"""Errors that become a job's `error` string."""


class InputError(ValueError):
    """A request field is wrong; the message is `"<field>: <what is wrong; what is allowed>"`."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


class EngineError(RuntimeError):
    """The engine could not serve a request that passed validation (a missing voice file, say)."""


class WorkerPoisoned(EngineError):
    """The engine's state is no longer trustworthy (CUDA out of memory, say): fail the job and restart the worker."""
