"""The text front end through the worker (queue door, hibari): SSML breaks are silence, pronunciations change what
is said and the cache key, IPA where the engine takes phonemes, scripts it cannot read refused, and no text ever an
internal error."""
import numpy as np
import pytest

from cache import AudioCache
from tests.helpers import decode, make_settings, rms_db
from tts.doors.queue import queue_job
from tts.service import TTSService


@pytest.fixture
def svc(engine, tmp_path):
    return TTSService(engine, AudioCache(str(tmp_path / "cache"), 0), make_settings())


def test_an_ssml_break_is_that_much_silence_in_the_audio(svc):
    plain = queue_job(svc, {"text": "First part. Second part.", "cache": False})
    broken = queue_job(svc, {"text": '<speak>First part.<break time="1500ms"/>Second part.</speak>', "cache": False})
    assert "error" not in broken, broken
    added = broken["duration_ms"] - plain["duration_ms"]
    assert 1100 <= added <= 1500  # the break replaces the engine's 200 ms pause between sentences
    samples, rate = decode(broken)
    quiet = [rms_db(samples[i:i + rate // 10]) < -50 for i in range(0, len(samples) - rate // 10, rate // 20)]
    longest = max(len(run) for run in "".join("q" if q else "." for q in quiet).split("."))
    assert longest >= 20  # one stretch of ~1 s below -50 dBFS


def test_the_same_speech_written_two_ways_is_one_cache_entry_and_a_pronunciation_is_another(svc):
    a = queue_job(svc, {"text": "Hello there."})
    b = queue_job(svc, {"text": "<speak>Hello there.</speak>"})
    assert b["cache_hit"] and a["cache_key"] == b["cache_key"]
    c = queue_job(svc, {"text": "Hello there.", "pronunciations": {"there": "where"}})
    assert not c["cache_hit"] and c["cache_key"] != a["cache_key"]


def test_an_ipa_pronunciation_is_spoken_by_hibari(svc):
    out = queue_job(svc, {"text": "I like Nginx.", "pronunciations": {"Nginx": "/ˈɛndʒɪn ɛks/"}, "cache": False})
    assert "error" not in out, out
    samples, _ = decode(out)
    assert len(samples) > 0 and rms_db(samples) > -35
    bad = queue_job(svc, {"text": "I like Nginx.", "pronunciations": {"Nginx": "/ǁʘ/"}})
    assert bad["error"] == "text: the pronunciation /ǁʘ/ uses sounds this engine cannot make: ǁ ʘ"


@pytest.mark.parametrize("request_input, error", [
    ({"text": "Привет мир"}, "text: has Cyrillic letters ('Привет мир'), which this engine does not read"),
    ({"text": "<speak><prosody rate='slow'>Hi</prosody></speak>"}, "text: <prosody> is not supported"),
    ({"text": "Hi", "pronunciations": ["Hi", "hey"]}, "pronunciations: must be an object of written form"),
    ({"text": "Hi", "lexicon": "../etc"}, "lexicon: must name a stored lexicon"),
    ({"text": "Hi", "text_type": "markdown"}, "text_type: must be one of text, ssml"),
])
def test_what_the_front_end_cannot_speak_is_a_field_error(svc, request_input, error):
    assert queue_job(svc, request_input)["error"].startswith(error)


def test_transliteration_reads_other_scripts_and_normalize_off_leaves_the_text_as_written(svc):
    out = queue_job(svc, {"text": "Привет мир", "transliterate": True, "cache": False})
    assert "error" not in out and out["duration_ms"] > 300
    assert queue_job(svc, {"text": "Room 101.", "normalize": False, "cache": False})["duration_ms"] > 300


@pytest.mark.parametrize("text", ["¹a", ("1,000," * 834)[:5000], "1,000,000,000,000,000,000,000,000,000,000,000,000",
                                  "٣٤٥ and ४५६ and １２３", "x\u0301\u0301\u0301\u0301 \u202e123\u202c"])
def test_no_text_is_ever_an_internal_error(svc, text):
    out = queue_job(svc, {"text": text, "cache": False})
    assert not out.get("error", "").startswith("internal"), out.get("error")
    if "error" in out:
        assert out["error"].startswith(("text: ", "output: ")), out["error"]  # output: 5,000 chars of "1,000,"
    else:
        assert np.isfinite(decode(out)[0]).all()


def test_stored_lexicons_apply_to_requests_that_name_them_and_request_entries_win(engine, tmp_path):
    svc = TTSService(engine, AudioCache(str(tmp_path / "cache"), 0), make_settings(lexicons_dir=str(tmp_path / "lx")))
    stored = queue_job(svc, {"action": "upload_lexicon", "name": "brands",
                             "entries": {"Nginx": "engine x", "tomato": "/təˈmeɪtoʊ/"}})
    assert stored["lexicon"]["name"] == "brands" and stored["lexicon"]["entries"] == 2
    assert queue_job(svc, {"action": "list_lexicons"})["lexicons"][0]["name"] == "brands"
    plain = queue_job(svc, {"text": "Nginx and a tomato."})
    named = queue_job(svc, {"text": "Nginx and a tomato.", "lexicon": "brands"})
    spelled = queue_job(svc, {"text": "engine x and a tomato.", "pronunciations": {"tomato": "/təˈmeɪtoʊ/"}})
    assert named["cache_key"] != plain["cache_key"]
    assert spelled["cache_hit"] and spelled["cache_key"] == named["cache_key"]  # the same speech, one entry
    override = queue_job(svc, {"text": "Nginx.", "lexicon": "brands", "pronunciations": {"Nginx": "N G I N X"}})
    assert override["cache_key"] == queue_job(svc, {"text": "N G I N X."})["cache_key"]
    assert queue_job(svc, {"action": "delete_lexicon", "name": "brands"}) == {"deleted": "brands"}
    assert queue_job(svc, {"text": "Hi.", "lexicon": "brands"})["error"].startswith(
        "lexicon: no stored lexicon 'brands'; stored: none")
    assert queue_job(svc, {"action": "upload_lexicon", "name": "x", "entries": {"Hi": ""}})["error"].startswith(
        "entries: 'Hi': the pronunciation must be 1 to 300 characters")
