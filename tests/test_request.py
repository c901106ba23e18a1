import pytest

from tests.helpers import make_settings
from tts.engines import Capabilities
from tts.errors import InputError
from tts.request import ActionRequest
from tts.schema import parse


def p(engine, raw, max_chars=5000):
    return parse(raw, Capabilities.of(engine), max_chars)


def test_defaults(engine):
    r = p(engine, {"text": "  Hello\n world "})
    assert (r.text, r.voice, r.speaker, r.format, r.sample_rate, r.speed, r.seed, r.language, r.cache,
            r.max_audio_length_ms) == ("Hello world", "heart", 0, "wav", 24000, 1.0, 0, "en", True, None)


def test_aliases_from_other_workers(engine):
    r = p(engine, {"text": "Hi", "speaker_id": 0, "local_voice": "heart", "response_format": "opus"})
    assert (r.speaker, r.voice, r.format) == (0, "heart", "ogg")


def test_whole_number_floats_from_javascript_are_accepted(engine):
    assert p(engine, {"text": "Hi", "sample_rate": 16000.0}).sample_rate == 16000


@pytest.mark.parametrize("raw, message", [
    ("just text", "input: must be a JSON object"),
    (None, "input: must be a JSON object"),
    ({}, "text: required"),
    ({"text": None}, "text: required"),
    ({"text": 42}, "text: must be a string; got int"),
    ({"text": " \n\t "}, "text: is empty after whitespace is collapsed"),
    ({"text": "x" * 5001}, "text: 5001 characters is over the limit of 5000 (MAX_TEXT_CHARS)"),
    ({"text": "Hi", "voice": "nobody"}, "voice: unknown voice 'nobody' for the hibari engine; installed: heart"),
    ({"text": "Hi", "voice": 3}, "voice: must be a string; got int"),
    ({"text": "Hi", "speaker": 2}, "speaker: the hibari engine has one speaker per voice (0)"),
    ({"text": "Hi", "speaker": False}, "speaker: the hibari engine has one speaker per voice (0)"),
    ({"text": "Hi", "format": "wma"}, "format: unsupported format 'wma'; allowed: wav, mp3, ogg, flac, pcm, aac"),
    ({"text": "Hi", "format": ["mp3"]}, "format: must be a string; got list"),
    ({"text": "Hi", "sample_rate": 7999}, "sample_rate: must be a whole number from 8000 to 48000; got 7999"),
    ({"text": "Hi", "sample_rate": 96000}, "sample_rate: must be a whole number from 8000 to 48000; got 96000"),
    ({"text": "Hi", "sample_rate": 22050.5}, "sample_rate: must be a whole number from 8000 to 48000"),
    ({"text": "Hi", "sample_rate": "24000"}, "sample_rate: must be a whole number from 8000 to 48000"),
    ({"text": "Hi", "format": "mp3", "sample_rate": 10000},
     "sample_rate: 10000 Hz cannot be encoded as mp3; mp3 allows 8000, 11025, 12000, 16000, 22050, 24000"),
    ({"text": "Hi", "format": "ogg", "sample_rate": 44100},
     "sample_rate: 44100 Hz cannot be encoded as ogg; ogg allows 8000, 12000, 16000, 24000, 48000"),
    ({"text": "Hi", "speed": 5.0}, "speed: must be a number from 0.5 to 2.0; got 5.0"),
    ({"text": "Hi", "speed": 0.49}, "speed: must be a number from 0.5 to 2.0; got 0.49"),
    ({"text": "Hi", "speed": "fast"}, "speed: must be a number from 0.5 to 2.0; got 'fast'"),
    ({"text": "Hi", "speed": True}, "speed: must be a number from 0.5 to 2.0; got True"),
    ({"text": "Hi", "speed": float("nan")}, "speed: must be a number from 0.5 to 2.0; got nan"),
    ({"text": "Hi", "seed": -1}, "seed: must be a whole number from 0 to 9223372036854775807; got -1"),
    ({"text": "Hi", "seed": 1.5}, "seed: must be a whole number from 0"),
    ({"text": "Hi", "cache": "no"}, "cache: must be true or false; got 'no'"),
    ({"text": "Hi", "language": "fr"}, "language: 'fr' is not supported by the hibari engine; supported: en"),
    ({"text": "Hi", "language": 1}, "language: must be a string; got int"),
    ({"text": "Hi", "max_audio_length_ms": 50}, "max_audio_length_ms: must be a whole number from 100 to 600000"),
    ({"text": "Hi", "voice_id": "x"}, "voice_id: unknown field; allowed fields: text, voice, speaker, format"),
    ({"text": "Hi", "speaker": 0, "speaker_id": 1}, "speaker_id: conflicts with 'speaker'; send only one of them"),
    ({"action": "reboot"}, "action: unknown action 'reboot'; allowed: health, list_voices, upload_voice, delete_voice"),
    ({"endpoint": 3}, "endpoint: unknown action 3; allowed: health"),
    ({"endpoint": "upload", "voice_name": "x", "voice_file_url": "https://example.com/x.wav"},
     "endpoint: upload_voice needs an engine that clones voices; this worker runs hibari"),
    ({"action": "delete_voice", "name": "x"}, "action: delete_voice needs an engine that clones voices"),
    ({"action": "health", "text": "Hi"}, "text: not allowed with action 'health'; it takes: no other fields"),
    ({"text": "Hi", "context": []}, "context: the hibari engine does not support conversation context"),
    ({"text": "Hi", "reference_audio": "AAAA"}, "reference_audio: the hibari engine does not support voice cloning"),
    ({"text": "Hi", "temperature": 0.5}, "temperature: the hibari engine does not support sampling settings"),
    ({"text": "Hi", "top_k": 5}, "top_k: the hibari engine does not support sampling settings"),
    ({"action": "health", "endpoint": "list_voices"}, "action: given twice (action and endpoint)"),
])
def test_each_bad_field_gets_a_message_naming_it_and_what_is_allowed(engine, raw, message):
    with pytest.raises(InputError) as err:
        p(engine, raw)
    assert str(err.value).startswith(message), str(err.value)


def test_a_known_voice_that_is_not_installed_is_refused_without_downloading(tmp_path):
    from tts.engines.hibari import HibariEngine

    engine = HibariEngine(make_settings(hibari_home=str(tmp_path)))  # an empty voice directory
    with pytest.raises(InputError) as err:
        p(engine, {"text": "Hi", "voice": "emma"})
    assert str(err.value).startswith("voice: 'emma' is not installed in this worker")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("lang", ["en", "EN-us", "en_GB", "English"])
def test_english_in_any_common_spelling(engine, lang):
    assert p(engine, {"text": "Hi", "language": lang}).language == "en"


@pytest.mark.parametrize("raw, action", [({"action": "health"}, "health"), ({"endpoint": "list_voices"}, "list_voices"),
                                         ({"action": "health", "endpoint": "health"}, "health")])
def test_actions(engine, raw, action):
    assert p(engine, raw) == ActionRequest(action)


def test_default_rate_is_native_and_mp3_ogg_keep_it(engine):
    for fmt in ("wav", "mp3", "ogg", "flac", "pcm"):
        assert p(engine, {"text": "Hi", "format": fmt}).sample_rate == 24000
