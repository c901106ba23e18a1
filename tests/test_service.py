import json
import os
import re

import numpy as np
import pytest

from cache import AudioCache
from tests.helpers import decode, make_settings, rms_db
from tts.doors.queue import queue_job
from tts.service import TTSService

SENTENCE = "The quick brown fox jumps over the lazy dog."


@pytest.mark.parametrize("fmt, mimetype, rate", [
    ("wav", "audio/wav", 24000), ("mp3", "audio/mpeg", 24000), ("ogg", "audio/ogg", 48000),
    ("flac", "audio/flac", 44100), ("pcm", "audio/pcm", 16000), ("mp3", "audio/mpeg", 8000),
])
def test_every_format_is_real_decodable_speech(service, fmt, mimetype, rate):
    out = queue_job(service, {"text": SENTENCE, "format": fmt, "sample_rate": rate})
    assert "error" not in out, out
    samples, file_rate = decode(out)
    assert (out["format"], out["mimetype"], out["sample_rate"], file_rate) == (fmt, mimetype, rate, rate)
    seconds = len(samples) / rate
    assert 1.5 < seconds < 6.0
    assert abs(seconds * 1000 - out["duration_ms"]) < 80   # codec padding at most
    assert rms_db(samples) > -35                           # speech, not silence
    assert np.max(np.abs(samples)) <= 1.0


def test_output_fields(service):
    out = queue_job(service, {"text": SENTENCE})
    assert set(out) == {"audio_base64", "mimetype", "format", "sample_rate", "duration_ms", "size_bytes",
                        "cache_hit", "cache_key", "engine", "model", "voice", "device", "generation_time_ms",
                        "chunks_processed", "warnings", "output_mode"}
    assert out["output_mode"] == "base64"
    assert (out["engine"], out["model"], out["voice"], out["device"]) == ("hibari", "hibari-tts", "heart", "cpu")
    assert re.fullmatch(r"[0-9a-f]{64}", out["cache_key"])
    assert out["generation_time_ms"] > 0 and out["chunks_processed"] == 1 and out["warnings"] == []


def test_miss_then_hit_with_whitespace_different_text_and_the_hit_skips_the_engine(service, tmp_path):
    first = queue_job(service, {"text": SENTENCE, "format": "mp3"})
    synthesized = service.counts["synthesized"]
    second = queue_job(service, {"text": "  The quick brown fox\n jumps over   the lazy dog. ", "format": "mp3"})
    assert (first["cache_hit"], second["cache_hit"]) == (False, True)
    assert second["audio_base64"] == first["audio_base64"] and second["cache_key"] == first["cache_key"]
    assert service.counts["synthesized"] == synthesized     # the engine never ran for the hit
    files = [f for _, _, fs in os.walk(tmp_path / "cache") for f in fs]
    assert files == [first["cache_key"] + ".tts"]


@pytest.mark.parametrize("change", [
    {"text": SENTENCE.lower()}, {"format": "wav"}, {"sample_rate": 16000}, {"speed": 1.1}, {"seed": 7},
    {"max_audio_length_ms": 1000},
])
def test_any_audio_changing_field_is_a_miss(service, change):
    base = {"text": SENTENCE, "format": "mp3"}
    first = queue_job(service, base)
    changed = queue_job(service, {**base, **change})
    assert changed["cache_hit"] is False and changed["cache_key"] != first["cache_key"]


def test_cache_false_bypasses_lookup_and_store(service, tmp_path):
    out = queue_job(service, {"text": SENTENCE, "cache": False})
    again = queue_job(service, {"text": SENTENCE, "cache": False})
    assert (out["cache_hit"], again["cache_hit"]) == (False, False)
    assert not (tmp_path / "cache").exists()


def test_same_seed_same_audio_other_seed_other_audio(service):
    a = queue_job(service, {"text": SENTENCE, "seed": 3, "cache": False})
    b = queue_job(service, {"text": SENTENCE, "seed": 3, "cache": False})
    c = queue_job(service, {"text": SENTENCE, "seed": 4, "cache": False})
    assert a["audio_base64"] == b["audio_base64"] != c["audio_base64"]


def test_a_corrupt_cache_entry_is_regenerated(service, tmp_path):
    first = queue_job(service, {"text": SENTENCE})
    key = first["cache_key"]
    path = tmp_path / "cache" / key[:2] / (key + ".tts")
    path.write_bytes(path.read_bytes()[:100])
    second = queue_job(service, {"text": SENTENCE})
    assert second["cache_hit"] is False and second["audio_base64"] == first["audio_base64"]
    assert queue_job(service, {"text": SENTENCE})["cache_hit"] is True


def test_an_unwritable_cache_still_serves(engine, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    svc = TTSService(engine, AudioCache(str(blocker / "cache"), 10**6), make_settings())
    for _ in range(2):
        out = queue_job(svc, {"text": SENTENCE, "format": "mp3"})
        assert "error" not in out and out["cache_hit"] is False
        assert rms_db(decode(out)[0]) > -35


def test_speed_changes_duration(service):
    normal = queue_job(service, {"text": SENTENCE})["duration_ms"]
    fast = queue_job(service, {"text": SENTENCE, "speed": 1.6})["duration_ms"]
    slow = queue_job(service, {"text": SENTENCE, "speed": 0.6})["duration_ms"]
    assert slow > normal * 1.3 and fast < normal * 0.8


def test_long_text_is_chunked_and_joined_with_short_pauses(service):
    sentences = [f"This is sentence number {i}, and it has a few more words to say." for i in range(1, 31)]
    out = queue_job(service, {"text": " ".join(sentences), "format": "wav"})
    assert "error" not in out
    assert out["chunks_processed"] >= 4
    samples, rate = decode(out)
    assert len(samples) / rate > 30
    # Pauses between sentences exist but none is long: silence runs of 10 ms frames under -45 dBFS.
    frames = samples[: len(samples) // 240 * 240].reshape(-1, 240)
    quiet = np.sqrt(np.mean(frames**2, axis=1)) < 10 ** (-45 / 20)
    runs, run = [], 0
    for q in quiet:
        if q:
            run += 1
        elif run:
            runs.append(run)
            run = 0
    inner = runs[1:]  # the first run is the leading silence
    assert len(inner) >= 25 and max(inner) * 10 <= 600


def test_max_audio_length_ms_caps_the_output_and_stops_early(service):
    long_text = " ".join(["Here is one more sentence to read."] * 20)
    full = queue_job(service, {"text": long_text, "cache": False})
    capped = queue_job(service, {"text": long_text, "cache": False, "max_audio_length_ms": 3000})
    assert capped["duration_ms"] == 3000 and len(decode(capped)[0]) == 3 * 24000
    assert capped["chunks_processed"] < full["chunks_processed"]


def test_oversized_response_is_a_clear_error_and_the_worker_goes_on(engine, tmp_path):
    svc = TTSService(engine, AudioCache(str(tmp_path), 0), make_settings(max_response_bytes=150_000))
    # Uncompressed audio that cannot fit even at the fastest speech: refused before any synthesis.
    out = queue_job(svc, {"text": SENTENCE * 3, "format": "wav"})
    assert set(out) == {"error"}
    assert re.fullmatch(r"output: the response would be at least 0\.\d\d MB \(at least \d+ s of wav at 24000 Hz for "
                        r"132 characters\), over the 0\.15 MB limit \(MAX_RESPONSE_BYTES; RunPod drops results over "
                        r"20 MB\); ask for format \"mp3\", \"ogg\", \"aac\" or \"m4a\" \(a tenth of the size\), "
                        r"shorter text or a lower "
                        r"sample_rate, or configure a bucket for \"output_mode\": \"url\"", out["error"])
    assert svc.counts["synthesized"] == 0
    small = queue_job(svc, {"text": SENTENCE * 3, "format": "mp3"})
    assert "error" not in small and len(json.dumps(small)) <= 150_000
    # Compressed audio is stopped as soon as what is encoded so far cannot fit: well before the end.
    sentences = []
    real_synthesize = engine.synthesize

    def counting(*args, **kwargs):
        for piece in real_synthesize(*args, **kwargs):
            sentences.append(piece)
            yield piece

    svc.engine = type("Counting", (), {"__getattr__": lambda _, name: getattr(engine, name),
                                       "synthesize": staticmethod(counting)})()
    huge = queue_job(svc, {"text": " ".join([SENTENCE] * 40), "format": "mp3"})
    assert re.fullmatch(r"output: the response would be over 0\.\d\d MB \(\d+ s of mp3 at 24000 Hz so far, and more "
                        r"text to speak\), over the 0\.15 MB limit .*ask for shorter text or a lower sample_rate, or "
                        r'configure a bucket for "output_mode": "url"', huge["error"])
    assert 5 < len(sentences) < 30  # of 40
    assert queue_job(svc, {"text": SENTENCE, "format": "mp3"})["duration_ms"] > 0


def test_bad_input_returns_an_error_and_the_next_job_works(service):
    assert queue_job(service, {"text": "Hi", "speed": 9}) == {"error": "speed: must be a number from 0.5 to 2.0; got 9"}
    assert "audio_base64" in queue_job(service, {"text": "Hi"})
    assert service.counts["failed"] == 1


def test_health_and_list_voices(service):
    queue_job(service, {"text": SENTENCE})
    queue_job(service, {"text": SENTENCE})
    health = queue_job(service, {"action": "health"})
    assert (health["status"], health["engine"], health["model"], health["device"]) == (
        "ok", "hibari", "hibari-tts", "cpu")
    assert "heart" in health["voices"] and health["sample_rate"] == 24000
    assert health["cache"]["entries"] == 1 and health["cache"]["hits"] == 1
    assert health["counts"]["cache_hits"] == 1 and health["counts"]["synthesized"] == 1
    voices = queue_job(service, {"endpoint": "list_voices"})
    assert voices["default_voice"] == "heart"
    by_name = {v["name"]: v for v in voices["voices"]}
    assert by_name["heart"]["installed"] is True and by_name["heart"]["language"] == "en-US"
    assert {"heart", "emma", "fenrir", "fable", "kore"} <= set(by_name)


def test_local_copy_is_written_when_output_dir_is_set(engine, tmp_path):
    svc = TTSService(engine, AudioCache(str(tmp_path / "c"), 0), make_settings(output_dir=str(tmp_path / "out")))
    out = queue_job(svc, {"text": SENTENCE, "format": "flac"}, job_id="job/1")
    assert (tmp_path / "out" / "job_1.flac").read_bytes() == __import__("base64").b64decode(out["audio_base64"])


def test_a_voice_installed_in_hibari_home_is_listed_loaded_and_keyed_separately(tmp_path):
    import shutil

    import hibari
    from hibari.voices import VOICES

    from tts.engines.hibari import HibariEngine

    home = tmp_path / "hibari-home"
    home.mkdir()
    # Its own engine: the shared one must not keep this voice loaded for other tests.
    service = TTSService(HibariEngine(make_settings(hibari_home=str(home))), AudioCache(str(tmp_path / "cache"), 0),
                         make_settings())
    voices = {v["name"]: v["installed"] for v in queue_job(service, {"action": "list_voices"})["voices"]}
    assert voices["kore"] is False
    # A copy of the bundled model under kore's file name, installed while the worker runs: the real install
    # location and loading path.
    shutil.copy(os.path.join(os.path.dirname(hibari.__file__), "assets", "hibari.onnx"), home / VOICES["kore"]["file"])
    voices = {v["name"]: v["installed"] for v in queue_job(service, {"action": "list_voices"})["voices"]}
    assert voices["kore"] is True and voices["emma"] is False
    heart = queue_job(service, {"text": SENTENCE})
    kore = queue_job(service, {"text": SENTENCE, "local_voice": "kore"})
    assert kore["voice"] == "kore" and kore["cache_key"] != heart["cache_key"]
    assert rms_db(decode(kore)[0]) > -35
    assert queue_job(service, {"action": "health"})["voices"] == ["heart", "kore"]


@pytest.mark.parametrize("text", ["😀😀", "你好世界", "\u200b\u200b"])
def test_text_with_nothing_to_pronounce_is_an_error_not_an_empty_file(service, text):
    out = queue_job(service, {"text": text})
    assert set(out) == {"error"} and out["error"].startswith("text: "), out
    assert service.cache.stats()["entries"] == 0


def test_a_job_past_its_time_budget_ends_with_a_timeout_error(engine, tmp_path):
    svc = TTSService(engine, AudioCache(str(tmp_path), 0), make_settings(max_job_seconds=1))
    long_text = " ".join(f"Sentence number {i} of a text that takes a while to read." for i in range(70))
    out = queue_job(svc, {"text": long_text, "format": "mp3", "cache": False})
    assert re.fullmatch(r"timeout: the job ran past its 1 s budget \(MAX_JOB_SECONDS\) with \d+ of \d+ text chunks "
                        r"done; send shorter text or split it into several requests", out["error"]), out
    assert queue_job(svc, {"text": SENTENCE, "format": "mp3"})["duration_ms"] > 0


def test_a_cache_entry_with_unusable_metadata_is_regenerated(service):
    first = queue_job(service, {"text": SENTENCE, "format": "mp3"})
    service.cache.put(first["cache_key"], b"not audio", {})  # a whole entry, but not one a result can use
    again = queue_job(service, {"text": SENTENCE, "format": "mp3"})
    assert again["cache_hit"] is False and again["audio_base64"] == first["audio_base64"]
    assert queue_job(service, {"text": SENTENCE, "format": "mp3"})["cache_hit"] is True


def test_hibari_jobs_on_several_threads_give_the_bytes_they_give_alone(service):
    import threading

    requests = [{"text": f"Request number {i} runs beside the others.", "format": "mp3", "seed": i, "cache": False}
                for i in range(6)]
    alone = [queue_job(service, r)["audio_base64"] for r in requests]
    results: list = [None] * len(requests)
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, queue_job(service, requests[i])))
               for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [r["audio_base64"] for r in results] == alone
