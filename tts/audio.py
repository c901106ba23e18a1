"""Sample-level helpers: silence detection, resampling (libsoxr), PCM conversion. Output formats are in
tts.formats."""
from __future__ import annotations

import numpy as np
import soxr

_QUALITY = "HQ"   # libsoxr's 20-bit quality: transparent for 16-bit output


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


def duration_ms(num_samples: int, sample_rate: int) -> int:
    return round(num_samples * 1000 / sample_rate)
