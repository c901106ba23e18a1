"""Word timestamps for a piece of synthesized audio: [{"word", "start_ms", "end_ms"}], ms from the piece's start.

From the engine's own durations where it has them (hibari: tts.timestamps.durations), else by forced alignment
of the known text (tts.timestamps.aligner, pocketsphinx). Real timings, never spread evenly over the audio.

How the service should wire it (not done here: tts/service.py and tts/assemble.py are someone else's now):
- Per piece, on the piece's own samples at the engine's native rate, before resampling or encoding:
  `word_times(engine.name, text, piece.samples, engine.sample_rate, durations=getattr(piece, "timing", None))`.
  hibari yields one piece per sentence (or per clause of a sentence over 400 phonemes) as a
  `tts.engines.hibari.TimedPiece` whose `timing` carries that sentence, so `text` is only used when it has
  none. For other engines (CSM) `text` must be the text of that segment, i.e. of the chunk the engine was called
  with; call it when the segment's last piece (`ends_segment`) arrives, on the segment's joined pieces.
- The words are the *spoken* ones, after the text front end: "4521" arrives as "four thousand five hundred
  twenty-one" and gets four words. Mapping them back to the written words needs the spans rewritten by
  tts/text/rewrite.rewrite; until then report the spoken words.
- Offsets: `Assembler` trims each seam's edge silence to MARGIN_MS and inserts the pause between segments, so a
  piece's words must be shifted by (output samples emitted before the segment's first kept sample) minus (the
  samples trimmed from the segment's head), both at the native rate: Assembler must report, per segment, its
  output offset and its head trim. Words cut by a length limit are dropped; a word straddling the cut ends at it.
- Cached results must store the words in their meta (bump PIPELINE_VERSION).
- Cost: durations ~1 ms per sentence; alignment ~10 ms per second of audio plus ~0.4 s once per job thread
  (a Decoder is built per thread and sample rate), and hibari's G2P is loaded once if a word is not in the
  aligner's dictionary (pass `g2p=` to align to share the engine's)."""
from __future__ import annotations

import numpy as np

from tts.timestamps.aligner import align
from tts.timestamps.durations import words_from_durations

__all__ = ["align", "word_times", "words_from_durations"]


def word_times(engine_name: str, text: str, audio: np.ndarray, sample_rate: int, durations=None) -> list[dict]:
    """The piece's words. `durations`: the engine's timing for it (hibari's `TimedPiece.timing`: sentence,
    phonemes, per-id durations and G2P), or None to align `text` against `audio`."""
    if engine_name == "hibari" and durations is not None:
        words = words_from_durations(durations.sentence, durations.phonemes, durations.durations, durations.g2p,
                                     audio, sample_rate)
        if words:
            return words
        text = durations.sentence
    return align(audio, sample_rate, text, g2p=getattr(durations, "g2p", None))
