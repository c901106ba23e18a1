"""Word timestamps (tts.timestamps) on audio whose word boundaries are known: words synthesized apart with hibari,
trimmed at -50 dB over 2 ms frames (the code judges sound at -40 dB over 5 ms), joined with known silences."""
import numpy as np
import pytest

from tts.engines.hibari import TimedPiece
from tts.request import SynthesisRequest
from tts.timestamps import aligner, word_times, words_from_durations

WORDS = ["hello", "purple", "elephant", "basket", "window", "yesterday", "music", "morning"]
GAPS_MS = (150, 300, 200)


def _request(engine, text, **kw):
    return SynthesisRequest(text=text, voice=engine.default_voice, speaker=0, format="wav",
                            sample_rate=engine.sample_rate, seed=0, **kw)


def _pieces(engine, text, **kw):
    return list(engine.synthesize(text, _request(engine, text, **kw)))


def _extent(x, rate):
    """The clip's sound: first and last 2 ms frame above -50 dB of its peak."""
    f = rate // 500
    n = len(x) // f
    rms = np.sqrt(np.mean(x[: n * f].reshape(n, f) ** 2, axis=1))
    on = np.flatnonzero(rms > rms.max() * 10 ** (-50 / 20))
    return int(on[0]) * f, min(len(x), (int(on[-1]) + 1) * f)


@pytest.fixture(scope="module")
def apart(engine):
    """Each word's own piece and its sound's extent in it, and all of them joined: (pieces, joined, truth_ms)."""
    rate = engine.sample_rate
    pieces, parts, truth = [], [np.zeros(rate * GAPS_MS[0] // 1000, np.float32)], []
    for k, w in enumerate(WORDS):
        (piece,) = _pieces(engine, w)
        a, b = _extent(piece.samples, rate)
        at = sum(map(len, parts))
        pieces.append((piece, a * 1000 / rate, b * 1000 / rate))
        truth.append((at * 1000 / rate, (at + b - a) * 1000 / rate))
        parts += [piece.samples[a:b], np.zeros(rate * GAPS_MS[(k + 1) % len(GAPS_MS)] // 1000, np.float32)]
    return pieces, np.concatenate(parts), truth


def _errors(got, truth):
    assert [g["word"].lower() for g in got] == WORDS[: len(got)] and len(got) == len(truth)
    return np.abs([e for g, (a, b) in zip(got, truth, strict=True) for e in (g["start_ms"] - a, g["end_ms"] - b)])


def test_durations_output_keeps_audio_bit_identical(engine):
    from hibari import Hibari

    text = "Hello there. Dr. Smith paid $9.99 at 7:30 pm! We meet at 4521 Main Street."
    plain = Hibari(threads=1)   # the wheel's own session: 6 outputs, no durations
    for speed in (0.8, 1.0, 1.4):
        pieces = _pieces(engine, text, speed=speed)
        expected = list(plain.stream(text, speed, seed=0))
        assert len(pieces) == len(expected) == 3
        for piece, samples in zip(pieces, expected, strict=True):
            assert np.array_equal(piece.samples, samples)
            # one duration unit is 2 frames = 600 samples (25 ms at 24 kHz), at every speed
            assert isinstance(piece, TimedPiece) and len(samples) == 600 * int(piece.timing.durations.sum())


def test_durations_path_on_words_apart(apart, engine):
    errors = []
    for piece, a, b in apart[0]:
        t = piece.timing
        (got,) = words_from_durations(t.sentence, t.phonemes, t.durations, t.g2p, piece.samples, engine.sample_rate)
        errors += [got["start_ms"] - a, got["end_ms"] - b]
    errors = np.abs(errors)
    assert np.median(errors) <= 30 and errors.max() <= 60, errors   # measured: median 7, max 37


def test_alignment_path_on_joined_words(apart, engine):
    _, joined, truth = apart
    errors = _errors(aligner.align(joined, engine.sample_rate, " ".join(WORDS)), truth)
    assert np.median(errors) <= 30 and errors.max() <= 60, errors   # measured: median 10, max 28


def test_alignment_at_16_khz_agrees(apart, engine):
    from tts.audio import resample

    _, joined, truth = apart
    errors = _errors(aligner.align(resample(joined, engine.sample_rate, 16000), 16000, " ".join(WORDS)), truth)
    assert np.median(errors) <= 30, errors


def test_word_times_on_a_sentence(engine):
    text = "Please call me back tomorrow, after the meeting."
    (piece,) = _pieces(engine, text)
    by_durations = word_times("hibari", text, piece.samples, engine.sample_rate, piece.timing)
    by_alignment = word_times("csm", text, piece.samples, engine.sample_rate)
    spoken = ["Please", "call", "me", "back", "tomorrow", "after", "the", "meeting"]
    assert [w["word"] for w in by_durations] == [w["word"] for w in by_alignment] == spoken
    ms = len(piece.samples) * 1000 / engine.sample_rate
    for words in (by_durations, by_alignment):
        edges = [t for w in words for t in (w["start_ms"], w["end_ms"])]
        assert edges == sorted(edges) and edges[0] >= 0 and edges[-1] <= ms
    # the two paths agree (measured over 10 sentences: median 18 ms, max 58 ms)
    pairs = zip(by_durations, by_alignment, strict=True)
    gaps = np.abs([x[k] - y[k] for x, y in pairs for k in ("start_ms", "end_ms")])
    assert np.median(gaps) <= 30 and gaps.max() <= 100, gaps


def test_words_missing_from_the_dictionary(engine):
    rate = engine.sample_rate
    words = ["hello", "zorblax", "elephant"]          # zorblax: not in cmudict, pronounced by hibari's G2P
    parts, truth = [np.zeros(rate // 5, np.float32)], []
    for w in words:
        (piece,) = _pieces(engine, w)
        a, b = _extent(piece.samples, rate)
        at = sum(map(len, parts))
        truth.append((at * 1000 / rate, (at + b - a) * 1000 / rate))
        parts += [piece.samples[a:b], np.zeros(rate // 5, np.float32)]
    joined = np.concatenate(parts)
    got = aligner.align(joined, rate, "Hello, zorblax elephant!")
    assert [g["word"] for g in got] == ["Hello", "zorblax", "elephant"]
    errors = np.abs([e for g, (a, b) in zip(got, truth, strict=True) for e in (g["start_ms"] - a, g["end_ms"] - b)])
    assert np.median(errors) <= 30 and errors.max() <= 80, errors


def test_unpronounceable_word_goes_between_its_neighbours(engine, monkeypatch):
    (piece,) = _pieces(engine, "Hello purple elephant.")
    monkeypatch.setattr(aligner, "guess_pronunciation", lambda word, g2p=None: None)
    got = aligner.align(piece.samples, engine.sample_rate, "hello qqxv purple elephant")
    assert [g["word"] for g in got] == ["hello", "qqxv", "purple", "elephant"]
    assert got[0]["end_ms"] <= got[1]["start_ms"] <= got[1]["end_ms"] <= got[2]["start_ms"]


def test_empty_and_short_input(engine):
    rate = engine.sample_rate
    assert aligner.align(np.zeros(0, np.float32), rate, "hello") == []
    assert aligner.align(np.zeros(rate // 50, np.float32), rate, "hello") == []   # 20 ms
    assert aligner.align(np.zeros(rate, np.float32), rate, "") == []
    assert aligner.align(np.zeros(rate, np.float32), rate, "... !") == []
    (piece,) = _pieces(engine, "Hello.")
    t = piece.timing
    assert words_from_durations(t.sentence, t.phonemes, t.durations[:-1], t.g2p) == []   # ids do not match
    assert word_times("hibari", "Hello.", piece.samples, rate, None)[0]["word"] == "Hello"   # no durations: aligned
    for piece in _pieces(engine, "..."):   # punctuation alone: a short pause, and no word in it
        assert word_times("hibari", "...", piece.samples, rate, getattr(piece, "timing", None)) == []
