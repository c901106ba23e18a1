"""A stream of raw audio bytes (pcm, mulaw, alaw) cut into frames of a fixed duration, as a phone line or an
agent's player wants them."""
from __future__ import annotations

_SILENCE = {"pcm": b"\x00", "mulaw": b"\xff", "alaw": b"\xd5"}   # one sample of silence: pads a phone's last frame


class Framer:
    """A context's stream bytes -> frames of chunk_ms (1 or 2 bytes a sample), the leftover carried across its
    segments; the last frame is padded with silence on a phone line, sent short otherwise."""

    def __init__(self, fmt: str, sample_rate: int, chunk_ms: int, pad: bool = False):
        self.sample_bytes = 2 if fmt == "pcm" else 1
        self.frame = self.sample_bytes * (sample_rate * chunk_ms // 1000)
        self.bytes_per_ms = self.sample_bytes * sample_rate / 1000
        self.pad = _SILENCE[fmt] * self.sample_bytes if pad else None
        self.pending = bytearray()

    def push(self, data: bytes) -> list[bytes]:
        self.pending += data
        n = len(self.pending) // self.frame * self.frame
        frames = [bytes(self.pending[i:i + self.frame]) for i in range(0, n, self.frame)]
        del self.pending[:n]
        return frames

    def end(self) -> list[bytes]:
        if not self.pending:
            return []
        last = bytes(self.pending)
        self.pending.clear()
        if self.pad is not None:
            last += self.pad[:1] * (self.frame - len(last))
        return [last]

    def ms(self, size: int) -> float:
        return size / self.bytes_per_ms
