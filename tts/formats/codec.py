"""What every output format is: a Codec names it, says what it allows, writes it whole and turns its growing file
into a stream. tts.formats registers one Codec per format; nothing else compares format names."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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
class Bitrates:
    """The bitrates (kbit/s) a codec takes at one sample rate: every whole kbit/s from low to high, or only `steps`
    (a codec whose frames come in fixed sizes). `in` tests a request's value; str() lists them for an error."""
    low: int
    high: int
    default: int | None = None               # what a request naming none gets; None: the encoder's own choice
    steps: tuple[int, ...] | None = None

    def __contains__(self, kbps: object) -> bool:
        return isinstance(kbps, int) and not isinstance(kbps, bool) and self.low <= kbps <= self.high \
            and (self.steps is None or kbps in self.steps)

    def __str__(self) -> str:
        return ", ".join(map(str, self.steps)) if self.steps else f"{self.low} to {self.high}"


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
    preferred_rate: int | None = None             # the rate a request naming none gets, whatever the engine's
    kbps: Mapping[int, Bitrates] | None = field(default=None, compare=False)  # per rate; None: no bitrate setting
    extension: str = ""                           # a file name's (the name itself when empty)

    def __post_init__(self) -> None:
        if not self.extension:
            object.__setattr__(self, "extension", self.name)

    def allows(self, rate: int) -> bool:
        return MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE and (self.rates is None or rate in self.rates)

    def nearest_rate(self, rate: int) -> int:
        """`rate` if the codec takes it, else the closest rate it does."""
        if self.rates is None or rate in self.rates:
            return rate
        return min(self.rates, key=lambda r: abs(r - rate))

    def default_rate(self, native: int) -> int:
        """The rate of a request that names none, from an engine speaking at `native`: the codec's own if it has
        one (G.711 is a telephone format: 8 kHz whatever the voice), else `native` or the closest it takes."""
        return self.preferred_rate or self.nearest_rate(native)

    def bitrates(self, rate: int) -> Bitrates | None:
        """The bitrates it takes at `rate`, or None if its bitrate is not a setting (or it does not take `rate`)."""
        return None if self.kbps is None else self.kbps.get(rate)

    # -- the whole file -------------------------------------------------------------------------------------
    def open(self, file, rate: int, kbps: int | None = None) -> Writer:
        """A Writer of this format at `rate` into `file` (a seekable binary file), at `kbps` kbit/s or, with
        None, at the codec's default for the rate."""
        if not self.allows(rate):
            raise ValueError(f"{self.name} cannot be encoded at {rate} Hz")
        allowed = self.bitrates(rate)
        if kbps is not None and (allowed is None or kbps not in allowed):
            raise ValueError(f"{self.name} at {rate} Hz cannot be encoded at {kbps} kbit/s"
                             + ("" if allowed is None else f"; it takes {allowed}"))
        return self.writer(file, rate, allowed.default if kbps is None and allowed is not None else kbps)

    def writer(self, file, rate: int, kbps: int | None) -> Writer:
        """`kbps`: checked against bitrates(rate) by open(); None where the codec has no bitrate setting, or
        leaves the choice to its encoder."""
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
        return start[1] + data[start[0]:self.stream_end(data, start[0], closed=True)]


@dataclass(frozen=True)
class WholeFileCodec(Codec):
    """A format whose index or header is only known at the end (FLAC's STREAMINFO, MP4's moov): its stream is the
    closed file, sent whole at close."""

    def stream_start(self, data, closed):
        return (0, b"") if closed else None


@dataclass(frozen=True)
class SoundfileCodec(Codec):
    """A container format libsndfile writes."""
    sf_format: str = ""
    sf_subtype: str = ""

    def writer(self, file, rate: int, kbps: int | None) -> sf.SoundFile:
        return sf.SoundFile(file, "w", samplerate=rate, channels=1, format=self.sf_format, subtype=self.sf_subtype,
                            **self.sf_options(rate, kbps))

    def sf_options(self, rate: int, kbps: int | None) -> dict:
        """Encoder settings beyond format and subtype (soundfile keyword arguments)."""
        return {}
