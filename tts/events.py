"""What a job yields to the door that runs it (queue handler, stream handler, HTTP, WebSocket): audio bytes as they
are made, then how it ended. Doors only translate these into their own shapes."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Started:
    """The request passed validation and its inputs were fetched: synthesis (or the cache) comes next."""
    format: str
    sample_rate: int
    mimetype: str


@dataclass(frozen=True)
class Audio:
    """The next bytes of the file being made (streaming jobs only); all of them joined are one valid file."""
    data: bytes

    def __repr__(self) -> str:  # never print audio
        return f"Audio({len(self.data)} bytes)"


@dataclass(frozen=True)
class Done:
    """The job succeeded. `result` is the output (synthesis metadata, delivered audio fields when the service
    delivered them, or an action's answer); `data` the whole audio file (empty for actions)."""
    result: dict
    data: bytes = field(default=b"", repr=False)
    action: bool = False


@dataclass(frozen=True)
class Failed:
    """The job failed. `kind`: "input" (the request: a field error, a timeout, an output that cannot be
    delivered), "engine" (the worker must restart: `refresh_worker`), or "internal" (a bug, logged)."""
    error: str
    kind: str
    field: str | None = None

    @property
    def refresh_worker(self) -> bool:
        return self.kind == "engine"

    def as_output(self) -> dict:
        """The queue handler's output for this failure."""
        return {"error": self.error, "refresh_worker": True} if self.refresh_worker else {"error": self.error}
