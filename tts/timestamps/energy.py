"""Where a word's sound ends: the last short window above a level relative to the piece's peak. Both paths use it
to correct ends: durations put a sentence's last word through its final pause, pocketsphinx ends words early."""
from __future__ import annotations

import numpy as np

LOUD_DB = -40.0         # relative to the piece's peak
WINDOW_MS = 5
TAIL_MS = 10            # kept after the last loud window: the decay below the level is still the word


def loud(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Per sample: whether the RMS over the WINDOW_MS around it is above LOUD_DB of the piece's peak."""
    window = max(1, sample_rate * WINDOW_MS // 1000)
    energy = np.sqrt(np.convolve(np.square(audio, dtype=np.float64), np.ones(window) / window, "same"))
    return energy > energy.max() * 10 ** (LOUD_DB / 20)


def sound_end_ms(mask: np.ndarray, sample_rate: int, start_ms: float, limit_ms: float) -> float | None:
    """The end (ms) of the last loud sound between start_ms and limit_ms, plus TAIL_MS but not past limit_ms (nor the
    audio's end); None if all is quiet."""
    lo = int(start_ms * sample_rate / 1000)
    hits = np.flatnonzero(mask[lo:min(len(mask), int(limit_ms * sample_rate / 1000))])
    if not len(hits):
        return None
    return min(limit_ms, len(mask) * 1000 / sample_rate, (lo + hits[-1] + 1) * 1000 / sample_rate + TAIL_MS)
