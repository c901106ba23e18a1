"""Raw PCM: 16-bit little-endian mono samples, no container; every byte is final as it is written."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tts.formats.codec import Codec


class _RawWriter:
    def __init__(self, file) -> None:
        self.file = file

    def write(self, samples: np.ndarray) -> None:
        self.file.write(samples.astype("<i2", copy=False).tobytes())

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class Pcm(Codec):
    def writer(self, file, rate: int, kbps: int | None) -> _RawWriter:
        return _RawWriter(file)


PCM = Pcm("pcm", "audio/pcm", sample_bytes=2)
