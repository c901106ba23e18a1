"""Word times by forced alignment of the known text (pocketsphinx 5, its bundled US English model, on the CPU).

A Decoder is not thread-safe and takes ~0.4 s to build, so each thread keeps its own, one per sample rate. It
aligns 16 and 24 kHz natively (the same boundaries within 6 ms); other rates are resampled to 16 kHz (8 kHz fails
with this model). Words missing from its dictionary get a pronunciation from hibari's G2P mapped to ARPAbet; a
word that still has none is dropped from the alignment and placed in the gap between its aligned neighbours."""
from __future__ import annotations

import logging
import re
import threading

import numpy as np

from tts import audio as audio_ops
from tts.timestamps import energy

log = logging.getLogger("tts.timestamps")

NATIVE_RATES = (16000, 24000)
FRAME_MS = 10               # pocketsphinx's frame
MAX_END_SHIFT_MS = 60       # how far an aligned end may move later to its sound's end (they are 30-50 ms early)
_FILLERS = {"<s>", "</s>", "<sil>", "(NULL)"}
_LEADING = re.compile(r"^[^\w']+")
_TRAILING = re.compile(r"[^\w']+$")
_local = threading.local()
_g2p_lock = threading.Lock()
_g2p = None

# misaki's phoneme letters (hibari's alphabet) -> the en-us model's ARPAbet phones; stress and length marks drop.
_ARPABET = {
    "ɜɹ": "ER", "əɹ": "ER", "A": "EY", "I": "AY", "O": "OW", "Q": "OW", "W": "AW", "Y": "OY", "æ": "AE", "ɑ": "AA",
    "ɒ": "AA", "a": "AA", "ɔ": "AO", "ə": "AH", "ᵊ": "AH", "ɐ": "AH", "ʌ": "AH", "ɛ": "EH", "ɜ": "ER", "ɪ": "IH",
    "i": "IY", "ʊ": "UH", "u": "UW", "b": "B", "d": "D", "f": "F", "h": "HH", "j": "Y", "k": "K", "l": "L",
    "m": "M", "n": "N", "p": "P", "s": "S", "t": "T", "T": "T", "v": "V", "w": "W", "z": "Z", "ɡ": "G", "ŋ": "NG",
    "ɹ": "R", "ʃ": "SH", "ʒ": "ZH", "ð": "DH", "θ": "TH", "ʧ": "CH", "ʤ": "JH", "x": "K", "ç": "HH",
}
_ARPABET_RE = re.compile("|".join(sorted(map(re.escape, _ARPABET), key=len, reverse=True)))


def spoken_words(text: str) -> list[tuple[str, str]]:
    """(word as written, dictionary key) for each whitespace-separated word with a letter or digit in it: edge
    punctuation stripped (a final "." kept after an initialism such as "p.m."), the key lowercased."""
    out = []
    for raw in text.split():
        word = _LEADING.sub("", raw.replace("’", "'"))
        stripped = _TRAILING.sub("", word)
        word = stripped + "." if "." in stripped and word[len(stripped):].startswith(".") else stripped
        if re.search(r"[^\W_]", word):
            out.append((word, word.lower()))
    return out


def _decoder(rate: int):
    decoders = _local.__dict__.setdefault("decoders", {})
    if rate not in decoders:
        from pocketsphinx import Decoder

        decoders[rate] = Decoder(samprate=rate, loglevel="FATAL")
    return decoders[rate]


def guess_pronunciation(word: str, g2p=None) -> str | None:
    """ARPAbet for a word the dictionary lacks, from hibari's G2P (`g2p`, or a US one loaded once)."""
    global _g2p
    if g2p is None:
        with _g2p_lock:
            if _g2p is None:
                from hibari.g2p import G2P

                _g2p = G2P()
            g2p = _g2p
    phones = _ARPABET_RE.findall(g2p(word) or "")
    return " ".join(_ARPABET[p] for p in phones) or None


def _pronounceable(decoder, key: str, g2p) -> bool:
    """True when `key` is in the decoder's dictionary, after adding it from its parts or a G2P guess if need be."""
    if decoder.lookup_word(key):
        return True
    parts = [p for p in re.split(r"[-.]", key) if p]
    prons = [decoder.lookup_word(p) for p in parts] if len(parts) > 1 else [None]
    pron = " ".join(prons) if all(prons) else guess_pronunciation(key.replace("-", " "), g2p)
    if not pron:
        return False
    try:
        decoder.add_word(key, pron, True)
    except (RuntimeError, ValueError) as e:   # a phone the model lacks
        log.warning("cannot add %r (%s) to the aligner's dictionary: %s", key, pron, e)
        return False
    return True


def align(audio: np.ndarray, sample_rate: int, text: str, g2p=None) -> list[dict]:
    """[{"word", "start_ms", "end_ms"}] for the spoken `text`'s words in `audio` (float mono), in ms from its
    start. [] when there is nothing to align or the aligner finds no path through the text."""
    words = spoken_words(text)
    if not words or len(audio) < sample_rate // 10:
        return []
    rate = sample_rate if sample_rate in NATIVE_RATES else 16000
    pcm = audio_ops.to_pcm16(audio_ops.resample(np.asarray(audio, np.float32), sample_rate, rate)).tobytes()
    decoder = _decoder(rate)
    kept = [i for i, (_, key) in enumerate(words) if _pronounceable(decoder, key, g2p)]
    if not kept:
        return []
    try:
        decoder.set_align_text(" ".join(words[i][1] for i in kept))
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
    except RuntimeError as e:
        log.warning("alignment failed for %r: %s", text[:80], e)
        return []
    segs = [s for s in decoder.seg() if s.word not in _FILLERS]
    if len(segs) != len(kept):
        log.warning("alignment found %d of %d words in %r", len(segs), len(kept), text[:80])
        return []
    times: list[tuple[float, float] | None] = [None] * len(words)
    for i, s in zip(kept, segs, strict=True):
        times[i] = (s.start_frame * FRAME_MS, (s.end_frame + 1) * FRAME_MS)
    _sound_ends(times, kept, audio, sample_rate)
    _interpolate(times, [w for w, _ in words], len(audio) * 1000 / sample_rate)
    return [{"word": w, "start_ms": round(a), "end_ms": round(b)} for (w, _), (a, b) in zip(words, times, strict=True)]


def _sound_ends(times: list, kept: list[int], audio: np.ndarray, sample_rate: int) -> None:
    """Aligned ends are 30-50 ms early (a word's decay goes to the following silence): move each to its sound's
    end, at most MAX_END_SHIFT_MS later and before the next aligned word starts (tts.timestamps.energy)."""
    mask = energy.loud(audio, sample_rate)
    for n, i in enumerate(kept):
        limit = times[kept[n + 1]][0] if n + 1 < len(kept) else len(audio) * 1000 / sample_rate
        limit = min(limit, times[i][1] + MAX_END_SHIFT_MS)
        end = energy.sound_end_ms(mask, sample_rate, times[i][0], limit)
        if end is not None:
            times[i] = (times[i][0], end)


def _interpolate(times: list, words: list[str], total_ms: float) -> None:
    """Fill each run of dropped words into the gap between its aligned neighbours, shared by letters."""
    i = 0
    while i < len(times):
        if times[i] is not None:
            i += 1
            continue
        j = i
        while j < len(times) and times[j] is None:
            j += 1
        lo = times[i - 1][1] if i else 0.0
        hi = times[j][0] if j < len(times) else total_ms
        if hi <= lo:   # neighbours touch: take the middle of their joint
            lo = hi = (lo + hi) / 2
        weights = np.cumsum([0] + [len(w) for w in words[i:j]]) / sum(len(w) for w in words[i:j])
        for k in range(i, j):
            times[k] = (lo + (hi - lo) * weights[k - i], lo + (hi - lo) * weights[k - i + 1])
        i = j
