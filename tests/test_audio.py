import gc
import io
import threading
import time

import numpy as np
import pytest
import soundfile as sf

from tts import assemble, audio
from tts.assemble import MARGIN_MS, Assembler, EncoderLate
from tts.audio_stream import Sink
from tts.formats import ogg

SR = 24000


def tone(seconds=1.0, freq=440.0, amp=0.5, sr=SR):
    t = np.arange(int(sr * seconds)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def encode(pieces, fmt, out_rate=SR, pause_ms=200, limit_ms=None):
    a = Assembler(SR, out_rate, fmt, pause_ms, limit_ms)
    for p in pieces:
        a.add(p)
    return a.finish()


def longest_silence(x):
    best = run = 0
    for silent in np.abs(x) < 1e-6:
        run = run + 1 if silent else 0
        best = max(best, run)
    return best


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3", "ogg"])
def test_every_container_format_decodes_at_the_right_rate_and_length(fmt):
    data, n = encode([tone(2.0)], fmt)
    assert n == 2 * SR
    samples, rate = sf.read(io.BytesIO(data), dtype="float32")
    assert rate == SR
    assert abs(len(samples) / rate - 2.0) < 0.08  # codec priming/padding only
    assert np.sqrt(np.mean(samples**2)) > 0.2   # a 0.5-amplitude tone, not silence


def test_pcm_is_raw_little_endian_int16():
    data, n = encode([np.array([0.0, 0.5, -0.5, 1.0, -1.0], np.float32)], "pcm")
    assert n == 5 and np.frombuffer(data, "<i2").tolist() == [0, 16384, -16384, 32767, -32767]


def test_loud_samples_saturate_instead_of_wrapping_around():
    loud = np.array([1.7, -1.9, 1.0001], np.float32)
    assert audio.to_pcm16(loud).tolist() == [32767, -32767, 32767]
    samples, _ = sf.read(io.BytesIO(encode([loud], "wav")[0]), dtype="int16")
    assert samples.tolist() == [32767, -32767, 32767]


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000])
def test_resample_keeps_duration_and_pitch(rate):
    out = audio.resample(tone(1.0, 440.0), SR, rate)
    assert len(out) == rate
    peak_hz = np.argmax(np.abs(np.fft.rfft(out))) * rate / len(out)
    assert abs(peak_hz - 440.0) < 2


def test_encoded_output_at_another_rate(tmp_path):
    data, n = encode([tone(1.0), tone(1.0)], "flac", out_rate=16000)
    samples, rate = sf.read(io.BytesIO(data))
    assert rate == 16000 and len(samples) == n
    assert abs(n / 16000 - (2.0 + 0.2)) < 0.01


def test_pieces_are_joined_with_one_even_pause_whatever_their_edge_silence():
    quiet = np.zeros(SR // 2, np.float32)
    a = np.concatenate([quiet, tone(0.5), quiet])
    b = np.concatenate([quiet[: SR // 10], tone(0.5), quiet[: SR // 10]])
    data, _ = encode([a, b], "pcm", pause_ms=200)
    joined = np.frombuffer(data, "<i2").astype(np.float32) / 32768
    lo, hi = audio.silence_edges(joined, SR)
    # The first piece's leading and the last piece's trailing silence are kept as they were.
    assert lo == SR // 2 and len(joined) - hi == SR // 10
    assert abs(longest_silence(joined[lo:hi]) / SR - (0.2 + 2 * MARGIN_MS / 1000)) < 0.02


def test_a_length_limit_cuts_with_a_fade_and_reports_full():
    a = Assembler(SR, SR, "pcm", 200, limit_ms=1500)
    a.add(tone(1.0))
    assert not a.full
    a.add(tone(1.0, amp=0.9))
    assert a.full
    a.add(tone(1.0))  # ignored
    data, n = a.finish()
    samples = np.frombuffer(data, "<i2")
    assert n == len(samples) == int(1.5 * SR)
    assert abs(int(samples[-1])) < 200 and np.abs(samples[-SR // 10:-SR // 50]).max() > 10000


def test_an_all_silent_piece_is_kept_whole():
    data, n = encode([np.zeros(SR, np.float32)], "pcm")
    assert n == SR and not np.frombuffer(data, "<i2").any()


def test_an_encoder_failure_is_raised_to_the_caller_and_does_not_hang():
    a = Assembler(SR, 10000, "mp3", 200)  # MP3 cannot take 10 kHz (the request parser refuses it first)
    with pytest.raises(ValueError, match="mp3 cannot be encoded at 10000 Hz"):
        for _ in range(3):
            a.add(tone(0.5))
        a.finish()
    a.abort()  # what the service does after a failure: returns at once


def finish_within(a: Assembler, seconds: float) -> list:
    """What a.finish() returned or raised, or [] if it had not returned after `seconds`."""
    outcome = []

    def run():
        try:
            outcome.append(a.finish())
        except Exception as e:  # noqa: BLE001 - the outcome is what the test looks at
            outcome.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    return outcome


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # libsndfile's write callback
def test_a_failure_in_the_final_flush_is_raised_instead_of_hanging(monkeypatch):
    """The encoder thread took _DONE, then its last write failed: it once waited for a second _DONE forever, and
    the job thread with it."""
    class FullDisk(Sink):
        full = False

        def write(self, b):
            if FullDisk.full:
                raise OSError(28, "No space left on device")
            return super().write(b)

    monkeypatch.setattr(assemble, "Sink", FullDisk)
    a = Assembler(SR, 16000, "wav", 200, stream=True)  # resampled: the resampler's tail is written after _DONE
    a.add(tone(0.5))
    a.take()        # everything so far is written
    monkeypatch.setattr(FullDisk, "full", True)
    outcome = finish_within(a, 10)
    assert outcome and isinstance(outcome[0], Exception), outcome


def encoder_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("encode-")]


def test_an_assembler_holds_no_thread_until_it_has_audio_and_a_dropped_one_ends_it():
    """The service built its Assembler before its try: a failure in between left the thread waiting forever."""
    before = set(encoder_threads())
    idle = Assembler(SR, SR, "mp3", 200)
    assert set(encoder_threads()) == before
    dropped = Assembler(SR, SR, "mp3", 200)
    dropped.add(tone(0.5))
    [thread] = set(encoder_threads()) - before
    del idle, dropped  # neither finished nor aborted
    gc.collect()
    thread.join(10)
    assert not thread.is_alive()
    data, n = encode([tone(0.5)], "mp3")  # an Assembler that is used still encodes
    assert n == SR // 2 and len(data) > 1000


RESAMPLE_PROBE = """
import resource, sys, time
import numpy as np
from tts import audio
from tts.assemble import Assembler
rate = int(sys.argv[1])
x = (0.3 * np.sin(np.arange(24000 * 20) * 0.05)).astype(np.float32)
audio.resample(x[:2400], 24000, 16000)  # load libsoxr before measuring
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
audio.resample(x, 24000, rate)                 # a whole clip (reference audio)
a = Assembler(24000, rate, "wav", 200)
for i in range(0, len(x), 4800):               # a stream of pieces (synthesis)
    a.add(x[i:i + 4800])
a.finish()
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base)
"""


def test_awkward_rates_cost_about_what_common_ones_do():
    """16001 or 47999 Hz once took tens of seconds and gigabytes (a kernel sized by the rates' gcd)."""
    import subprocess
    import sys

    from tests.helpers import ROOT

    def probe(rate):
        done = subprocess.run([sys.executable, "-c", RESAMPLE_PROBE, str(rate)], cwd=ROOT, capture_output=True,
                              text=True, timeout=120, check=True)
        seconds, kilobytes = done.stdout.split()
        return float(seconds), int(kilobytes)

    base_s, base_kb = probe(16000)
    for rate in (16001, 47999, 8001):
        seconds, kilobytes = probe(rate)
        assert seconds < 5 * base_s + 0.2, (rate, seconds, base_s)
        assert kilobytes < 4 * base_kb + 20_000, (rate, kilobytes, base_kb)  # peak RSS growth


def test_streamed_resampling_equals_resampling_the_whole():
    x = tone(3.0)
    r = audio.Resampler(24000, 16001)
    pieces = [r.push(x[i:i + 1000]) for i in range(0, len(x), 1000)] + [r.finish()]
    assert np.array_equal(np.concatenate(pieces), audio.resample(x, 24000, 16001))


def test_ogg_output_is_byte_identical_for_the_same_audio():
    first, _ = encode([tone(), tone(0.5, 220)], "ogg")
    second, _ = encode([tone(), tone(0.5, 220)], "ogg")
    assert first == second and first[14:18] == ogg.SERIAL.to_bytes(4, "little")
    samples, rate = sf.read(io.BytesIO(first))  # libogg drops pages whose checksum is wrong
    assert rate == SR and abs(len(samples) - int(1.7 * SR)) < SR // 10


def test_an_encoder_behind_at_the_deadline_is_stopped_and_said_so():
    """A slow codec far behind synthesis (minutes of Ogg Vorbis queued) must not hold the job past its budget:
    finish() and take() give up at the deadline, and the encoder thread ends after the block it is on."""
    a = Assembler(SR, SR, "ogg", 200, stream=True)
    for _ in range(60):
        a.add(tone(2.0))
    with pytest.raises(EncoderLate):
        a.take(time.monotonic() + 0.05)
    t = time.monotonic()
    with pytest.raises(EncoderLate):
        a.finish(time.monotonic() + 0.05)
    assert time.monotonic() - t < 1.0
    thread = a._encoder._thread
    thread.join(5)
    assert not thread.is_alive()
