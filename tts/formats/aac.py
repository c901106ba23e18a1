"""AAC-LC through FFmpeg's native encoder (PyAV): `aac` in ADTS frames, a stream, and `m4a` in an MP4 file.

One encoder per job, fed as the audio comes: packets of 1024 samples leave as soon as the encoder has them (it
looks ahead about a frame). Every ADTS frame carries its own header, so an ADTS stream is its frames as they are
written, cut at whole frames. An MP4 file's index (moov) is written at the end, after the audio, with sizes
rewritten at close: an m4a stream is the closed file, sent whole.

Length. The encoder starts with a frame of priming (1024 samples before the audio) and pads the last frame.
MP4 says both (an edit list), so an m4a decodes to its audio and less than a frame of padding. ADTS cannot say
either, and a decoder would play the priming frame as 1024 samples of silence before the audio: the ADTS writer
leaves the priming packet out, so that an aac file or stream also decodes to its audio and less than a frame of
padding. The cost: the first 1024 samples decode without the half of their overlap the priming packet carried,
which is exact where they are silent (a result starts with the engine's leading silence) and a short fade-in
where they are not.

Same request, same bytes: the encoder has no randomness; `bitexact` leaves FFmpeg's version string out of the
files (its libavformat and encoder tags), and MP4's creation times stay 0 (none is given)."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from tts.formats.codec import Bitrates, Codec, WholeFileCodec

RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)   # ADTS's standard rates in our range
FRAME = 1024          # samples an AAC-LC frame holds
ADTS_HEADER = 7       # bytes, without a CRC (FFmpeg writes none)


def bitrates(rate: int) -> Bitrates:
    """16 kbit/s up to 4 bits a sample: above that FFmpeg's encoder falls ever further short of the target (at
    8 kHz it cannot pass 38 kbit/s on speech-like noise), below 16 it exceeds it. The default, 64 kbit/s or the
    top at low rates, is near-transparent for mono speech."""
    top = 4 * rate // 1000
    return Bitrates(16, top, min(64, top))


def adts_frames(data: bytes | bytearray, start: int = 0) -> Iterator[tuple[int, int]]:
    """(start, end) of each whole ADTS frame from `start` on, stopping at the first frame not whole yet."""
    pos = start
    while pos + ADTS_HEADER <= len(data) and data[pos] == 0xFF and data[pos + 1] & 0xF6 == 0xF0:
        end = pos + adts_frame_length(data[pos:pos + ADTS_HEADER])
        if end > len(data) or end == pos:
            return
        yield pos, end
        pos = end


def adts_frame_length(header: bytes | bytearray) -> int:
    """The length in bytes (header included) of the ADTS frame whose 7-byte header this is."""
    if len(header) < ADTS_HEADER or header[0] != 0xFF or header[1] & 0xF6 != 0xF0:
        raise ValueError("not an ADTS frame header")
    return (header[3] & 0x03) << 11 | header[4] << 3 | header[5] >> 5


class _AacWriter:
    """FFmpeg's AAC encoder and a muxer, writing into a Python file."""

    def __init__(self, file, rate: int, kbps: int, muxer: str, keep_priming: bool):
        import av  # here, not at import: a worker that never writes AAC does not pay its 0.1-0.2 s import

        self.rate = rate
        self.keep_priming = keep_priming
        self.samples = 0
        self.container = av.open(file, "w", format=muxer, options={"fflags": "+bitexact"})
        self.stream = self.container.add_stream("aac", rate=rate, layout="mono")
        self.stream.codec_context.bit_rate = kbps * 1000
        self.stream.codec_context.flags |= av.codec.context.Flags.bitexact
        self._frame = av.AudioFrame

    def write(self, samples: np.ndarray) -> None:
        frame = self._frame.from_ndarray(np.ascontiguousarray(samples, np.float32).reshape(1, -1), format="fltp",
                                         layout="mono")
        frame.sample_rate, frame.pts = self.rate, self.samples
        self.samples += len(samples)
        self._mux(self.stream.encode(frame))

    def close(self) -> None:
        self._mux(self.stream.encode(None))
        if not self.samples:
            self.container.start_encoding()  # a file with no audio is still a file (an empty MP4, headers only)
        self.container.close()

    def _mux(self, packets) -> None:
        for packet in packets:
            if self.keep_priming or packet.pts is None or packet.pts >= 0:
                self.container.mux(packet)


@dataclass(frozen=True)
class Adts(Codec):
    def writer(self, file, rate: int, kbps: int | None) -> _AacWriter:
        return _AacWriter(file, rate, kbps, "adts", keep_priming=False)

    def stream_end(self, data, start, closed):
        return max((end for _, end in adts_frames(data, start)), default=start)


@dataclass(frozen=True)
class M4a(WholeFileCodec):
    def writer(self, file, rate: int, kbps: int | None) -> _AacWriter:
        # "ipod": FFmpeg's MP4 muxer with the M4A brand, which players expect of an .m4a file.
        return _AacWriter(file, rate, kbps, "ipod", keep_priming=True)


_KBPS = {rate: bitrates(rate) for rate in RATES}
AAC = Adts("aac", "audio/aac", RATES, aliases=("adts",), lossy=True, int16_input=False, kbps=_KBPS)
M4A = M4a("m4a", "audio/mp4", RATES, aliases=("mp4",), lossy=True, int16_input=False, kbps=_KBPS)
