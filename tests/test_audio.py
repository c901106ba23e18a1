import io

import numpy as np
import pytest
import soundfile as sf

from tts import audio

SR = 24000


def tone(seconds=1.0, freq=440.0, amp=0.5, sr=SR):
    t = np.arange(int(sr * seconds)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3", "ogg"])
def test_every_container_format_decodes_at_the_right_rate_and_length(fmt):
    data = audio.encode(tone(2.0), SR, fmt)
    samples, rate = sf.read(io.BytesIO(data), dtype="float32")
    assert rate == SR
    assert abs(len(samples) / rate - 2.0) < 0.08  # codec priming/padding only
    assert np.sqrt(np.mean(samples**2)) > 0.2   # a 0.5-amplitude tone, not silence


def test_pcm_is_raw_little_endian_int16():
    data = audio.encode(np.array([0.0, 0.5, -0.5, 1.0, -1.0], np.float32), SR, "pcm")
    assert np.frombuffer(data, "<i2").tolist() == [0, 16384, -16384, 32767, -32767]


def test_loud_samples_saturate_instead_of_wrapping_around():
    loud = np.array([1.7, -1.9, 1.0001], np.float32)
    assert audio.to_pcm16(loud).tolist() == [32767, -32767, 32767]
    samples, _ = sf.read(io.BytesIO(audio.encode(loud, SR, "wav")), dtype="int16")
    assert samples.tolist() == [32767, -32767, 32767]


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000])
def test_resample_keeps_duration_and_pitch(rate):
    out = audio.resample(tone(1.0, 440.0), SR, rate)
    assert len(out) == rate
    spectrum = np.abs(np.fft.rfft(out))
    peak_hz = np.argmax(spectrum) * rate / len(out)
    assert abs(peak_hz - 440.0) < 2


def test_join_puts_one_even_pause_between_chunks_whatever_their_edge_silence():
    quiet = np.zeros(SR // 2, np.float32)
    a = np.concatenate([quiet, tone(0.5), quiet])
    b = np.concatenate([quiet[: SR // 10], tone(0.5), quiet[: SR // 10]])
    joined = audio.join([a, b], SR, pause_ms=200, margin_ms=60)
    lo, hi = audio.silence_edges(joined, SR)
    # Leading silence of the first chunk and trailing silence of the last are kept as they were.
    assert lo == SR // 2 and len(joined) - hi == SR // 10
    assert abs(longest_silence(joined[lo:hi]) / SR - (0.2 + 2 * 0.06)) < 0.02


def longest_silence(x):
    best = run = 0
    for silent in np.abs(x) < 1e-6:
        run = run + 1 if silent else 0
        best = max(best, run)
    return best


def test_join_of_one_part_is_that_part_and_of_none_is_empty():
    a = tone(0.1)
    assert audio.join([a], SR, 200) is a
    assert len(audio.join([], SR, 200)) == 0
