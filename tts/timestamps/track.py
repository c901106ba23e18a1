"""A job's words on the output file's clock: each segment's words (tts.timestamps.word_times, ms from the segment's
own start) shifted to where the Assembler placed the segment (after its pause, its lead silence trimmed) and cut
where the Assembler cut it (its trailing silence, the length limit)."""
from __future__ import annotations

import numpy as np

from tts.timestamps import word_times


class WordTrack:
    """Fed every piece after the Assembler took it (add); `words` holds the job's words so far."""

    def __init__(self, engine_name: str, sample_rate: int):
        self.engine_name, self.rate = engine_name, sample_rate
        self.words: list[dict] = []
        self._pieces: list[np.ndarray] = []
        self._ended = 0   # the Assembler's segments_ended when the last segment was timed

    def add(self, piece, text: str, out) -> None:
        """`piece` (tts.engines.Piece) as just given to `out` (tts.assemble.Assembler); `text`: what the engine
        was asked to speak in this piece's segment (used when the engine gives no timing of its own)."""
        self._pieces.append(piece.samples)
        if not piece.ends_segment:
            return
        samples = np.concatenate(self._pieces) if len(self._pieces) > 1 else self._pieces[0]
        self._pieces = []
        if out.segments_ended == self._ended or out.last_segment is None:
            return   # the Assembler dropped the segment (past the length limit, or no samples)
        self._ended = out.segments_ended
        origin, end = (n * 1000 / out.native_rate for n in out.last_segment)
        for w in word_times(self.engine_name, text, samples, self.rate, getattr(piece, "timing", None)):
            start, stop = w["start_ms"] + origin, min(w["end_ms"] + origin, end)
            if start < end:
                self.words.append({"word": w["word"], "start_ms": round(max(start, 0)), "end_ms": round(stop)})
