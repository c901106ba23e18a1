"""Word times from hibari's own per-phoneme durations (tts.engines.hibari.Timing).

The model predicts one duration per input id, the 0 pads included; one unit is 2 frames of 300 samples at
24 kHz = 25 ms, and a piece's audio is exactly 600 samples per unit. The ids are the phoneme string's characters
that are in the vocabulary, so rebuilding the G2P's tokens tells which ids each written token owns: a token owns
its phonemes' ids and a space between tokens owns one id (the string G2P.__call__ joins)."""
from __future__ import annotations

import json
import os
import re

import numpy as np

from tts.timestamps import energy

UNIT_MS = 25.0          # one duration unit: 2 frames x 300 samples at 24 kHz
LEAD_UNITS = 3          # Kokoro's join_timestamps: all times 3 units before the ids' own (the model speaks ahead)
_WORD = re.compile(r"\w")
_vocab: dict[str, int] | None = None


def _model_vocab() -> dict[str, int]:
    global _vocab
    if _vocab is None:
        from hibari.tts import ASSETS

        with open(os.path.join(ASSETS, "vocab.json"), encoding="utf-8") as f:
            _vocab = json.load(f)
    return _vocab


def id_owners(g2p, sentence: str, phonemes: str) -> tuple[list[str], list[int]] | None:
    """The sentence's tokens, and for each id of `phonemes` (pads excluded) the index of the token owning it, or -1
    for a space between tokens. `phonemes` is the sentence's whole string or one clause of it (Hibari.phonemize
    cuts sentences over 400 phonemes at clause punctuation). None when it is not found in the sentence's string."""
    from hibari.g2p.normalize import normalize

    tokens = g2p.phonemize_tokens(g2p.tokenize(normalize(sentence)))
    chars, owners = [], []
    for k, tk in enumerate(tokens):
        ps = g2p.unk if tk.phonemes is None else tk.phonemes
        chars += ps
        owners += [k] * len(ps)
        if tk.whitespace:
            chars.append(" ")
            owners.append(-1)
    joined = "".join(chars)
    lead = len(joined) - len(joined.lstrip())
    at = joined.strip().find(phonemes)
    if at < 0:
        return None
    vocab = _model_vocab()
    span = range(lead + at, lead + at + len(phonemes))
    return [tk.text for tk in tokens], [owners[i] for i in span if joined[i] in vocab]


def words_from_durations(sentence: str, phonemes: str, durations: np.ndarray, g2p,
                         audio: np.ndarray | None = None, sample_rate: int = 24000) -> list[dict]:
    """[{"word", "start_ms", "end_ms"}] for the written tokens with a letter or digit in them (punctuation takes
    time but is no word), in ms from the start of the piece's audio. Spaces are split half and half between the
    neighbouring words, as Kokoro's join_timestamps does; with `audio`, each end is clamped to the word's last
    loud window (the last phoneme of a sentence absorbs the final pause: ends were 60-120 ms late without it).
    [] when the ids cannot be mapped (then align instead)."""
    mapped = id_owners(g2p, sentence, phonemes)
    d = np.asarray(durations, dtype=np.float64).reshape(-1)
    if mapped is None or len(mapped[1]) != len(d) - 2:
        return []
    texts, owners = mapped
    edges = np.concatenate([[0.0], np.cumsum(d)]) - min(LEAD_UNITS, d[0])  # edges[k]: start of id k, in units
    spans: dict[int, list[float]] = {}
    for k, owner in enumerate(owners, start=1):
        if owner < 0:
            continue
        # a word reaches into half of each space beside it
        start = (edges[k] + edges[k - 1]) / 2 if k > 1 and owners[k - 2] < 0 else edges[k]
        end = (edges[k + 1] + edges[k + 2]) / 2 if k < len(owners) and owners[k] < 0 else edges[k + 1]
        span = spans.setdefault(owner, [start, end])
        span[1] = end
    words = [{"word": texts[k], "start_ms": max(0.0, a * UNIT_MS), "end_ms": b * UNIT_MS}
             for k, (a, b) in sorted(spans.items()) if _WORD.search(texts[k])]
    if audio is not None and len(audio):
        _clamp_ends(words, audio, sample_rate)
    for w in words:
        w["start_ms"], w["end_ms"] = round(w["start_ms"]), round(w["end_ms"])
    return words


def _clamp_ends(words: list[dict], audio: np.ndarray, sample_rate: int) -> None:
    """Move each word's end to its sound's end (tts.timestamps.energy): earlier only, except the piece's last word,
    which may also end later (alone, a short word's audio runs past its final pad's predicted start)."""
    mask = energy.loud(audio, sample_rate)
    total = len(audio) * 1000 / sample_rate
    for k, w in enumerate(words):
        last = k == len(words) - 1
        end = energy.sound_end_ms(mask, sample_rate, w["start_ms"], total if last else w["end_ms"])
        if end is not None:
            w["end_ms"] = end if last else min(w["end_ms"], end)
