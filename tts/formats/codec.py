"""What every output format is: a Codec names it, says what it allows, writes it whole and turns its growing file
into a stream. tts.formats registers one Codec per format; nothing else compares format names."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import soundfile as sf

MIN_SAMPLE_RATE = 8000
MAX_SAMPLE_RATE = 48000


class Writer(Protocol):
    """An open encoder: samples in (the dtype its codec asks for, see Codec.int16_input), bytes out to its file."""

    def write(self, samples: np.ndarray) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Codec:
    """One output format.

    Written whole: open() a Writer on a seekable file, write mono blocks, close, then finalize() the bytes.
    Streamed: the encoder's file grows (and some of its bytes are rewritten at close); stream_start, stream_end
    and stream_fix say which bytes may leave as they are written, so that the stream joined is one valid file.
    The defaults stream every byte as written (raw formats)."""
    name: str                                     # what requests send and results report
    mimetype: str
    rates: tuple[int, ...] | None = None          # the only rates it takes; None: any from MIN to MAX_SAMPLE_RATE
    aliases: tuple[str, ...] = ()                 # other names requests may use (vendors' names)
    sample_bytes: int | None = None               # uncompressed: bytes per sample, so the size is known in advance
    lossy: bool = False                           # a lossy codec: a small fraction of the uncompressed size
    int16_input: bool = True                      # its Writer takes int16 samples; else float32 in [-1, 1]

    def allows(self, rate: int) -> bool:
        return MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE and (self.rates is None or rate in self.rates)

    def nearest_rate(self, rate: int) -> int:
        """`rate` if the codec takes it, else the closest rate it does."""
        if self.rates is None or rate in self.rates:
            return rate
        return min(self.rates, key=lambda r: abs(r - rate))

    # -- the whole file -------------------------------------------------------------------------------------
    def open(self, file, rate: int) -> Writer:
        """A Writer of this format at `rate` into `file` (a seekable binary file)."""
        if not self.allows(rate):
            raise ValueError(f"{self.name} cannot be encoded at {rate} Hz")
        return self.writer(file, rate)

    def writer(self, file, rate: int) -> Writer:
        raise NotImplementedError

    def finalize(self, data: bytes) -> bytes:
        """The closed file as delivered and cached (what the encoder cannot make deterministic is fixed here)."""
        return data

    # -- the stream ------------------------------------------------------------------------------------------
    def stream_start(self, data: bytes | bytearray, closed: bool) -> tuple[int, bytes] | None:
        """(where in the file the stream's bytes begin, the head sent before them), or None while the file is too
        short to tell."""
        return 0, b""

    def stream_end(self, data: bytes | bytearray, start: int, closed: bool) -> int:
        """The end of the bytes from `start` on that are final (never rewritten) and playable."""
        return len(data)

    def stream_fix(self, chunk: bytes) -> bytes:
        """A chunk of the file as it is streamed (bytes from stream_start to stream_end)."""
        return chunk

    def stream_of(self, data: bytes) -> bytes:
        """The stream of a closed, finalized file: byte for byte what streaming it as it was encoded sent (a
        cache hit streams this)."""
        start = self.stream_start(data, closed=True)
        if start is None:
            raise ValueError(f"not a whole {self.name} file: {len(data)} bytes")
        return start[1] + data[start[0]:]


@dataclass(frozen=True)
class SoundfileCodec(Codec):
    """A container format libsndfile writes."""
    sf_format: str = ""
    sf_subtype: str = ""

    def writer(self, file, rate: int) -> sf.SoundFile:
        return sf.SoundFile(file, "w", samplerate=rate, channels=1, format=self.sf_format, subtype=self.sf_subtype,
                            **self.sf_options(rate))

    def sf_options(self, rate: int) -> dict:
        """Encoder settings beyond format and subtype (soundfile keyword arguments)."""
        return {}
