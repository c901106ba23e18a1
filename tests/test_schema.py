"""schema.parse on its own: hand-written capabilities, no engine, no disk, no network."""
import builtins
import os
import socket

import pytest

from tts.engines.base import Capabilities, VoiceInfo
from tts.errors import InputError
from tts.request import ActionRequest, AudioSource, SynthesisRequest, TurnSource
from tts.schema import SynthesisInput, UploadVoiceAction, parse

# A cloning, sampling, ten-speaker engine at 24 kHz (CSM's shape) and a one-speaker CPU voice at 22050 Hz.
CSM = Capabilities("csm", 24000, range(10), ("en",), frozenset({"context", "cloning", "sampling"}),
                   default_temperature=0.9, default_top_k=50)
SMALL = Capabilities("small", 22050, range(1), ("en", "de"), frozenset(), default_voice="anna",
                     voices=(VoiceInfo("anna", True, "de-DE", ""), VoiceInfo("ben", False, "en-US", "")))


@pytest.fixture(autouse=True)
def no_io(monkeypatch):
    """parse is pure: opening files, listing directories or resolving hosts fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"parse did I/O: {args!r}")

    monkeypatch.setattr(builtins, "open", refuse)
    monkeypatch.setattr(os, "listdir", refuse)
    monkeypatch.setattr(os, "scandir", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def error(raw, caps=CSM, **kw) -> str:
    with pytest.raises(InputError) as err:
        parse(raw, caps, **kw)
    return str(err.value)


def test_defaults_come_from_the_capabilities():
    r = parse({"text": " Hello\nthere "}, SMALL)
    assert r == SynthesisRequest(text="Hello there", voice="anna", speaker=0, format="wav", sample_rate=22050,
                                 language="en")
    c = parse({"text": "Hi", "format": "ogg"}, CSM)
    assert (c.voice, c.temperature, c.top_k, c.sample_rate) == (None, 0.9, 50, 24000)
    # 22050 Hz cannot be Opus: the nearest rate the codec takes.
    assert parse({"text": "Hi", "format": "opus"}, SMALL).sample_rate == 24000


def test_conditioning_audio_is_carried_as_sources_not_decoded():
    r = parse({"text": "Reply.", "speaker_id": 2, "reference_audio": "not even base64", "reference_text": " Hi  you ",
               "context": [{"text": "Question?", "speaker": 1, "audio_base64": "QUJD"},
                           {"text": "No audio here."}]}, CSM)
    assert r.reference == TurnSource("Hi you", 2, AudioSource("reference_audio", base64="not even base64"))
    assert r.context == (TurnSource("Question?", 1, AudioSource("context[0].audio_base64", base64="QUJD")),)
    assert r.warnings == ("context[1]: has no audio_base64, so it cannot condition the voice and was left out",)
    assert r.voice is None and not r.stored_voice


def test_a_voice_the_engine_does_not_ship_is_a_stored_voice_for_a_cloning_engine():
    assert parse({"text": "Hi", "voice": " alice "}, CSM).stored_voice is True
    assert error({"text": "Hi", "voice": "alice"}, SMALL) == \
        "voice: unknown voice 'alice' for the small engine; installed: anna"
    assert error({"text": "Hi", "voice": "ben"}, SMALL).startswith("voice: 'ben' is not installed in this worker")


def test_engine_dependent_checks_read_the_capabilities():
    assert parse({"text": "Hi", "language": "de_AT"}, SMALL).language == "de"
    assert error({"text": "Hi", "speaker": 10}) == "speaker: must be a whole number from 0 to 9; got 10"
    assert error({"text": "Hi", "context": [{"text": "x"}, {"text": "y", "speaker": 12}]}) == \
        "context[1].speaker: must be a whole number from 0 to 9; got 12"
    assert error({"text": "Hi", "temperature": 0.5}, SMALL) == \
        "temperature: the small engine does not support sampling settings; remove the field or deploy an engine " \
        "that does (TTS_ENGINE=csm)"
    assert error({"text": "x" * 11}, max_text_chars=10).startswith("text: 11 characters is over the limit of 10")


def test_s3config_becomes_a_bucket_whose_repr_hides_the_secret():
    r = parse({"text": "Hi", "output_mode": "url", "s3Config": {"endpointUrl": "https://s3.example.com",
              "accessId": "AK", "accessSecret": "s3cr3t", "bucketName": "b"}}, CSM)
    assert (r.bucket.endpoint_url, r.bucket.name, r.bucket.access_secret) == ("https://s3.example.com", "b", "s3cr3t")
    assert "s3cr3t" not in repr(r)
    assert error({"text": "Hi", "s3Config": {"endpointUrl": "https://h", "accessId": "a", "bucketName": "b"}}) == \
        "s3Config.accessSecret: required: a non-empty string"


def test_actions_with_the_f5_tts_shapes():
    up = parse({"endpoint": "upload", "voice_name": "bob", "voice_file_url": "https://x/v.wav", "ref_text": "Hi."}, CSM)
    assert up == ActionRequest("upload_voice", {"name": "bob", "text": "Hi.",
                                                "audio": AudioSource("audio_url", url="https://x/v.wav")})
    assert parse({"action": "delete_voice", "name": "bob"}, CSM) == ActionRequest("delete_voice", {"name": "bob"})
    assert parse({"action": "list_voices"}, SMALL) == ActionRequest("list_voices", {})
    assert error({"action": "upload_voice", "name": "bob", "text": "t"}) == \
        "audio_base64: send exactly one of audio_base64 (the file, base64) or audio_url"
    assert error({"action": "upload_voice", "name": "x"}, SMALL) == \
        "action: upload_voice needs an engine that clones voices; this worker runs small"


def test_the_schema_is_published_as_json_schema():
    schema = SynthesisInput.model_json_schema()
    assert schema["required"] == ["text"] and schema["additionalProperties"] is False
    assert {"text", "voice", "speaker", "format", "sample_rate", "context", "s3Config"} <= set(schema["properties"])
    assert UploadVoiceAction.model_json_schema()["required"] == ["name", "text"]


def test_an_unknown_field_suggests_the_allowed_one_it_is_closest_to():
    assert error({"text": "Hi", "fromat": "mp3"}).startswith("fromat: unknown field; allowed fields: text, voice")
    assert error({"text": "Hi", "fromat": "mp3"}).endswith("; did you mean 'format'?")
    assert error({"text": "Hi", "speeker": 1}).endswith("; did you mean 'speaker'?")
    assert error({"text": "Hi", "Sample_Rate": 16000}).endswith("; did you mean 'sample_rate'?")  # any case
    assert error({"text": "Hi", "acton": "health"}).endswith("; did you mean 'action'?")
    assert error({"action": "upload_voice", "nmae": "bob"}).endswith("; did you mean 'name'?")
    nested = error({"text": "Hi", "s3Config": {"endpointurl": "https://h"}})
    assert nested.startswith("s3Config.endpointurl: unknown field; s3Config takes endpointUrl")
    assert nested.endswith("; did you mean 'endpointUrl'?")
    # Nothing close, or a key too long to compare: the allowed fields only.
    for key in ("xyz", "f" * 65 + "ormat"):
        assert "did you mean" not in error({"text": "Hi", key: 1})
