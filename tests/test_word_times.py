"""Word timestamps through the doors: `timestamps` / `subtitles` in a whole result, a stream's last event and the
cache; the words sit on the output file's clock (pauses the Assembler inserts move them), checked against the
audio itself."""
import base64
import io
import itertools
import re

import numpy as np
import soundfile as sf

from tts.doors.queue import queue_job
from tts.events import Done


def _audio(out):
    samples, rate = sf.read(io.BytesIO(base64.b64decode(out["audio_base64"])), dtype="float32")
    return samples, rate


def _loud(samples, rate, start_ms, end_ms):
    part = samples[int(rate * start_ms / 1000):int(rate * end_ms / 1000)]
    return float(np.sqrt(np.mean(part ** 2))) if len(part) else 0.0


def test_words_come_in_order_on_the_files_clock_over_its_speech(service):
    out = queue_job(service, {"text": "Hello there, Dr. Smith. It costs $4.50 today!", "timestamps": True,
                              "format": "wav"})
    words = out["words"]
    assert [w["word"].lower() for w in words] == ["hello", "there", "doctor", "smith", "it", "costs", "four",
                                                   "dollars", "and", "fifty", "cents", "today"]
    assert all(0 <= w["start_ms"] < w["end_ms"] <= out["duration_ms"] for w in words)
    assert all(a["end_ms"] <= b["start_ms"] for a, b in itertools.pairwise(words))
    samples, rate = _audio(out)
    before = _loud(samples, rate, 0, words[0]["start_ms"] - 60)           # the lead silence
    inside = min(_loud(samples, rate, w["start_ms"], w["end_ms"]) for w in words)
    assert inside > 5 * max(before, 1e-4)                                  # every word's span holds sound


def test_a_break_moves_the_words_after_it_by_its_length(service):
    plain = queue_job(service, {"text": "<speak>Good morning. <break time=\"100ms\"/> See you soon.</speak>",
                                "timestamps": True, "cache": False})["words"]
    paused = queue_job(service, {"text": "<speak>Good morning. <break time=\"1500ms\"/> See you soon.</speak>",
                                 "timestamps": True, "cache": False})["words"]
    assert [w["word"] for w in plain] == [w["word"] for w in paused]
    assert [w["start_ms"] for w in plain[:2]] == [w["start_ms"] for w in paused[:2]]
    shift = [p["start_ms"] - q["start_ms"] for p, q in zip(paused[2:], plain[2:], strict=True)]
    assert all(abs(s - 1400) <= 30 for s in shift), shift


def test_subtitles_and_the_cache_keep_the_words(service):
    text = "One small step for a man. One giant leap for mankind."
    first = queue_job(service, {"text": text, "subtitles": "srt"})
    assert not first["cache_hit"] and len(first["words"]) == 11
    cues = first["subtitles"].strip().split("\n\n")
    assert cues[0].startswith("1\n00:00:00,") and all(re.match(r"\d+\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n",
                                                                 c) for c in cues)
    assert " ".join(c.split("\n", 2)[2] for c in cues) == " ".join(w["word"] for w in first["words"])
    again = queue_job(service, {"text": text, "timestamps": True})
    assert again["cache_hit"] and again["words"] == first["words"] and "subtitles" not in again
    vtt = queue_job(service, {"text": text, "subtitles": "vtt"})["subtitles"]
    assert vtt.startswith("WEBVTT\n\n00:00:00.")


def test_an_entry_cached_without_words_is_made_again_with_them(service):
    text = "Words were not asked for the first time."
    assert "words" not in queue_job(service, {"text": text})
    out = queue_job(service, {"text": text, "timestamps": True})
    assert not out["cache_hit"] and len(out["words"]) == 8
    assert queue_job(service, {"text": text, "timestamps": True})["cache_hit"]


def test_a_streams_last_event_carries_the_words(service):
    events = list(service.run({"text": "Streamed words. Two sentences.", "timestamps": True, "format": "mp3"},
                              "t", stream=True, deliver=False))
    result = events[-1].result
    assert isinstance(events[-1], Done) and [w["word"] for w in result.words] == ["Streamed", "words", "Two",
                                                                                   "sentences"]
    assert result.output()["words"][0]["start_ms"] >= 0


def test_bad_values_are_field_errors(service):
    assert queue_job(service, {"text": "Hi", "subtitles": "ass"}) == {
        "error": "subtitles: must be one of srt, vtt; got 'ass'"}
    assert queue_job(service, {"text": "Hi", "timestamps": "yes"}) == {
        "error": "timestamps: must be true or false; got 'yes'"}
