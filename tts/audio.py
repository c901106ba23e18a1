"""Audio formats and sample-level helpers: silence detection, resampling (libsoxr), PCM conversion."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soxr

MIN_SAMPLE_RATE = 8000
MAX_SAMPLE_RATE = 48000
_QUALITY = "HQ"   # libsoxr's 20-bit quality: transparent for 16-bit output


@dataclass(frozen=True)
class Format:
    mimetype: str
    # None = any rate in [MIN_SAMPLE_RATE, MAX_SAMPLE_RATE]; else the codec's only rates.
    rates: tuple[int, ...] | None = None


_MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
_OPUS_RATES = (8000, 12000, 16000, 24000, 48000)

FORMATS: dict[str, Format] = {
    "wav": Format("audio/wav"),
    "mp3": Format("audio/mpeg", _MP3_RATES),
    "ogg": Format("audio/ogg", _OPUS_RATES),
    "flac": Format("audio/flac"),
    "pcm": Format("audio/pcm"),
}


SILENCE_FRAME_MS = 10   # silence is judged per frame of this length
SILENCE_DB = -45.0      # a frame whose RMS is below this (dBFS) is silent


def frame_samples(sample_rate: int, frame_ms: int = SILENCE_FRAME_MS) -> int:
    return max(1, sample_rate * frame_ms // 1000)


def loud_frames(audio: np.ndarray, frame: int, threshold_db: float = SILENCE_DB) -> np.ndarray:
    """Indices of the whole `frame`-sample frames of `audio` whose RMS is above threshold_db dBFS (a partial last
    frame is not judged)."""
    n = len(audio) // frame
    rms = np.sqrt(np.mean(np.square(audio[: n * frame].reshape(n, frame), dtype=np.float64), axis=1))
    return np.flatnonzero(rms > 10 ** (threshold_db / 20))


def silence_edges(audio: np.ndarray, sample_rate: int, threshold_db: float = SILENCE_DB,
                  frame_ms: int = SILENCE_FRAME_MS) -> tuple[int, int]:
    """(first, last) sample bounds of the non-silent part (RMS per frame above threshold_db dBFS)."""
    frame = frame_samples(sample_rate, frame_ms)
    if len(audio) < frame:
        return 0, len(audio)
    loud = loud_frames(audio, frame, threshold_db)
    if loud.size == 0:
        return 0, 0
    return int(loud[0]) * frame, min(len(audio), (int(loud[-1]) + 1) * frame)


def resample(audio: np.ndarray, orig_rate: int, new_rate: int) -> np.ndarray:
    """A whole clip resampled (libsoxr, polyphase: the cost is linear in the length for any pair of rates)."""
    if orig_rate == new_rate or len(audio) == 0:
        return audio
    return soxr.resample(np.ascontiguousarray(audio, dtype=np.float32), orig_rate, new_rate, quality=_QUALITY)


class Resampler:
    """One stream resampled block by block: the blocks joined equal `resample` of the whole stream."""

    def __init__(self, in_rate: int, out_rate: int):
        self._stream = None if in_rate == out_rate else \
            soxr.ResampleStream(in_rate, out_rate, 1, dtype="float32", quality=_QUALITY)

    def push(self, block: np.ndarray) -> np.ndarray:
        if self._stream is None:
            return block
        return self._stream.resample_chunk(np.ascontiguousarray(block, dtype=np.float32))

    def finish(self) -> np.ndarray:
        """What the resampler still holds (its filter delay), at the end of the stream."""
        if self._stream is None:
            return np.zeros(0, np.float32)
        return self._stream.resample_chunk(np.zeros(0, np.float32), last=True)


def to_pcm16(audio: np.ndarray) -> np.ndarray:
    """float [-1, 1] to int16, clipped first so loud peaks saturate instead of wrapping around."""
    return np.round(np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2")


# How soundfile writes each container format (pcm is raw samples, no container).
SOUNDFILE_ARGS: dict[str, dict] = {
    "wav": {"format": "WAV", "subtype": "PCM_16"},
    "flac": {"format": "FLAC", "subtype": "PCM_16"},
    # libsndfile maps compression_level 0..1 onto LAME's VBR quality (0 = best). 0.5 gives ~45 kbit/s
    # for 24 kHz speech, an eighth of the WAV size; VBR encodes ~25 % faster than constant bitrate.
    "mp3": {"format": "MP3", "subtype": "MPEG_LAYER_III", "bitrate_mode": "VARIABLE", "compression_level": 0.5},
    "ogg": {"format": "OGG", "subtype": "OPUS"},
}


OGG_SERIAL = 0x54545331  # "TTS1": one fixed stream serial, so the same request gives the same bytes


def _ogg_crc_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else r << 1
        table.append(r & 0xFFFFFFFF)
    return table


_OGG_CRC = _ogg_crc_table()


def _ogg_crc(page: bytes) -> int:
    crc = 0
    for byte in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _OGG_CRC[(crc >> 24) ^ byte]
    return crc


def set_ogg_serial(data: bytes, serial: int = OGG_SERIAL) -> bytes:
    """The Ogg stream with every page's serial number set to `serial` and its checksum recomputed.

    libsndfile picks a random serial per file (with no way to set it), which would make identical requests
    give different bytes."""
    out = bytearray(data)
    pos = 0
    while pos + 27 <= len(out) and out[pos:pos + 4] == b"OggS":
        segments = out[pos + 26]
        end = pos + 27 + segments + sum(out[pos + 27:pos + 27 + segments])
        out[pos + 14:pos + 18] = serial.to_bytes(4, "little")
        out[pos + 22:pos + 26] = b"\0\0\0\0"
        out[pos + 22:pos + 26] = _ogg_crc(bytes(out[pos:end])).to_bytes(4, "little")
        pos = end
    if pos != len(out):
        raise ValueError(f"not a whole Ogg stream: a page is cut at byte {pos} of {len(out)}")
    return bytes(out)


def duration_ms(num_samples: int, sample_rate: int) -> int:
    return round(num_samples * 1000 / sample_rate)
