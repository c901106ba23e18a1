"""The CSM engine on a tiny random-weight model saved to disk and loaded like sesame/csm-1b (MODEL_ID=<dir>)."""
import base64
import io
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from cache import AudioCache
from tests.helpers import ROOT, decode, files_handler, joined, make_settings, serve, worker_env
from tools.tiny_csm import build_tiny_csm
from tts.doors.queue import queue_job
from tts.engines import Capabilities
from tts.errors import WorkerPoisoned
from tts.schema import parse
from tts.service import TTSService
from tts.voices import VoiceLibrary


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return build_tiny_csm(str(tmp_path_factory.mktemp("tiny-csm")))


@pytest.fixture(scope="module")
def csm(model_dir):
    from tts.engines import load_engine

    # The production loading path: AutoProcessor + from_pretrained(MODEL_ID)
    return load_engine("csm", make_settings(model_id=model_dir, device="cpu"))


def csm_service(csm, tmp_path, **settings):
    return TTSService(csm, AudioCache(str(tmp_path / "cache"), 0), make_settings(**settings),
                      VoiceLibrary(str(tmp_path / "voices"), csm.sample_rate))


@pytest.fixture
def svc(csm, tmp_path):
    return csm_service(csm, tmp_path)


@pytest.fixture(scope="module")
def speech_wav(engine):
    """Real speech (hibari) as WAV bytes at 24 kHz: a reference clip to clone."""
    r = parse({"text": "Hello there, this is my voice."}, Capabilities.of(engine))
    wave = joined(engine.synthesize(r.text, r))
    buf = io.BytesIO()
    sf.write(buf, wave, 24000, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def audio(out):
    assert "error" not in out, out
    return decode(out)[0]


def test_loads_from_a_directory_with_a_version_from_its_files(csm, model_dir):
    assert (csm.name, csm.model_id, csm.device, csm.sample_rate) == ("csm", model_dir, "cpu", 24000)
    assert csm.model_version.startswith("local-")


def test_a_generation_that_never_ends_stops_at_the_length_cap(svc):
    # Random weights never emit the end frame: the frame budget from the text length is what stops it.
    out = queue_job(svc, {"text": "Hi.", "cache": False})
    assert out["duration_ms"] == 17 * 80   # ceil((1000 + 100 * 3 chars) / 80 ms) frames
    assert queue_job(svc, {"text": "Hi.", "max_audio_length_ms": 500, "cache": False})["duration_ms"] == 500


def test_speakers_change_the_audio_and_the_key(svc):
    a, b = queue_job(svc, {"text": "Hi.", "speaker": 0}), queue_job(svc, {"text": "Hi.", "speaker_id": 3})
    assert a["cache_key"] != b["cache_key"] and a["audio_base64"] != b["audio_base64"]
    assert queue_job(svc, {"text": "Hi.", "speaker": 10}) == {
        "error": "speaker: must be a whole number from 0 to 9; got 10"}


def test_same_seed_same_audio_and_sampling_settings_do_not_leak_between_requests(svc):
    base = {"text": "Same again.", "cache": False, "seed": 11}
    first = queue_job(svc, base)
    other = queue_job(svc, {**base, "temperature": 0.3, "top_k": 5})
    again = queue_job(svc, base)
    assert first["audio_base64"] == again["audio_base64"] != other["audio_base64"]
    assert queue_job(svc, {**base, "seed": 12})["audio_base64"] != first["audio_base64"]


def test_context_with_audio_conditions_the_output_and_turns_without_audio_are_reported(svc, speech_wav):
    plain = queue_job(svc, {"text": "Reply.", "speaker": 1})
    context = [{"text": "Hello there, this is my voice.", "speaker": 0, "audio_base64": b64(speech_wav)},
               {"text": "A turn with no audio.", "speaker": 1}]
    out = queue_job(svc, {"text": "Reply.", "speaker": 1, "context": context})
    assert out["audio_base64"] != plain["audio_base64"] and out["cache_key"] != plain["cache_key"]
    assert out["warnings"] == ["context[1]: has no audio_base64, so it cannot condition the voice and was left out"]
    assert len(audio(out)) > 0


def test_reference_audio_clones_and_its_hash_keys_the_cache_whatever_the_container(svc, speech_wav):
    samples, rate = sf.read(io.BytesIO(speech_wav), dtype="int16")
    flac = io.BytesIO()
    sf.write(flac, samples, rate, format="FLAC")
    req = {"text": "Cloned.", "reference_text": "Hello there, this is my voice."}
    from_wav = queue_job(svc, {**req, "reference_audio": b64(speech_wav)})
    from_flac = queue_job(svc, {**req, "reference_audio": b64(flac.getvalue())})
    assert from_flac["cache_hit"] is True and from_flac["cache_key"] == from_wav["cache_key"]
    other = queue_job(svc, {**req, "reference_audio": b64(speech_wav[:-4800])})  # 0.1 s shorter
    assert other["cache_key"] != from_wav["cache_key"]
    plain = queue_job(svc, {"text": "Plain."})
    assert plain["cache_key"] != queue_job(svc, {"text": "Plain.", "temperature": 0.5})["cache_key"]


def test_upload_list_use_and_delete_a_stored_voice(svc, speech_wav, tmp_path):
    up = queue_job(svc, {"action": "upload_voice", "name": "alice", "audio_base64": b64(speech_wav),
                     "text": "Hello there, this is my voice."})
    assert up["voice"]["name"] == "alice" and 2 < up["voice"]["seconds"] < 4
    assert sorted(os.listdir(tmp_path / "voices")) == ["alice.voice"]
    listed = queue_job(svc, {"endpoint": "list_voices"})["voices"]
    assert [v["name"] for v in listed if v["stored"]] == ["alice"]
    by_name = queue_job(svc, {"text": "Stored voice.", "voice": "alice"})
    same_clip = queue_job(svc, {"text": "Stored voice.", "local_voice": "alice"})
    assert by_name["voice"] == "alice" and same_clip["cache_hit"] is True
    assert queue_job(svc, {"action": "delete_voice", "name": "alice"}) == {"deleted": "alice"}
    assert queue_job(svc, {"text": "Gone.", "voice": "alice"})["error"].startswith("voice: unknown voice 'alice'")
    assert queue_job(svc, {"action": "delete_voice", "name": "alice"}) == {
        "error": "name: no stored voice 'alice'; stored: none"}


@pytest.fixture
def file_server(speech_wav):
    with serve(files_handler({"/voice.wav": speech_wav, "/big.wav": b"\0" * (11 * 1024 * 1024)})) as url:
        yield url


@pytest.fixture
def private_svc(csm, tmp_path):
    """A worker that may fetch from private addresses: the test's file server is on loopback."""
    return csm_service(csm, tmp_path, allow_private_urls=True)


def test_f5_style_upload_from_a_url_then_synthesis_with_local_voice(private_svc, file_server):
    svc = private_svc
    up = queue_job(svc, {"endpoint": "upload", "voice_file_url": f"{file_server}/voice.wav", "voice_name": "bob",
                     "ref_text": "Hello there, this is my voice."})
    assert up["voice"]["name"] == "bob"
    assert [v["name"] for v in queue_job(svc, {"endpoint": "list_voices"})["voices"]] == ["bob"]
    assert queue_job(svc, {"text": "Hi from Bob.", "local_voice": "bob"})["voice"] == "bob"


@pytest.mark.parametrize("url, message", [
    ("/missing.wav", "audio_url: the server answered HTTP 404"),
    ("/big.wav", "audio_url: the file is 11.5 MB, over the 10 MB limit"),
])
def test_url_downloads_that_fail_say_why(private_svc, file_server, url, message):
    out = queue_job(private_svc, {"action": "upload_voice", "name": "x", "audio_url": file_server + url, "text": "t"})
    assert out["error"].startswith(message), out


@pytest.mark.parametrize("url, message", [
    ("file:///etc/passwd", "audio_url: only http:// and https:// URLs are allowed; got file scheme"),
    ("ftp://127.0.0.1/x.wav", "audio_url: only http:// and https:// URLs are allowed; got ftp scheme"),
    ("http://169.254.169.254/latest", "audio_url: host '169.254.169.254' is a private or local address"),
    ("http://127.0.0.1:9/x.wav", "audio_url: host '127.0.0.1' is a private or local address"),
    (42, "audio_url: must be an http(s) URL string"),
])
def test_bad_urls_are_refused_before_any_connection(svc, url, message):
    out = queue_job(svc, {"action": "upload_voice", "name": "x", "audio_url": url, "text": "t"})
    assert out["error"].startswith(message), out


@pytest.mark.parametrize("name", ["../escape", "a/b", "", ".hidden", "x" * 65, "voice.wav", None, 7, "-x"])
def test_hostile_voice_names_are_refused_and_write_nothing(svc, speech_wav, tmp_path, name):
    out = queue_job(svc, {"action": "upload_voice", "name": name, "audio_base64": b64(speech_wav), "text": "t"})
    assert out["error"].startswith("name: must be 1-64 letters, digits, '-' or '_'"), out
    assert not (tmp_path / "voices").exists() and not (tmp_path / "escape.wav").exists()


def test_bad_reference_inputs(svc, speech_wav):
    long_clip = io.BytesIO()
    sf.write(long_clip, np.zeros(24000 * 31, np.float32), 24000, format="WAV")
    cases = [
        ({"reference_audio": "not base64!!", "reference_text": "t"},
         "reference_audio: is not valid base64"),
        ({"reference_audio": b64(b"RIFF garbage"), "reference_text": "t"},
         "reference_audio: could not be read as audio (WAV, FLAC, OGG or MP3)"),
        ({"reference_audio": b64(long_clip.getvalue()), "reference_text": "t"},
         "reference_audio: 31.0 s is longer than the 30 s allowed; trim it"),
        ({"reference_audio": b64(speech_wav)}, "reference_text: required: the transcript of the reference audio"),
        ({"reference_text": "t"}, "reference_text: needs reference_audio"),
        ({"reference_audio": b64(speech_wav), "reference_text": "t", "voice": "x"},
         "voice: send either voice or reference_audio, not both"),
        ({"context": [{"text": "x", "audio_base64": "@@"}]}, "context[0].audio_base64: is not valid base64"),
        ({"context": [{"text": "x", "speaker": 12}]}, "context[0].speaker: must be a whole number from 0 to 9"),
        ({"context": [{"text": "x", "audio": "AAAA"}]}, "context[0].audio: unknown field; a turn takes text, speaker"),
        ({"context": "hello"}, "context: must be a list of at most 16 turns"),
        ({"temperature": 0}, "temperature: must be a number from 0.05 to 2.0; got 0"),
        ({"top_k": 0}, "top_k: must be a whole number from 1 to 2048; got 0"),
        ({"speaker": 1.5}, "speaker: must be a whole number from 0 to 9; got 1.5"),
        ({"voice": "../voices/x"}, "voice: unknown voice '../voices/x' for the csm engine"),
    ]
    for extra, message in cases:
        out = queue_job(svc, {"text": "Hi.", **extra})
        assert set(out) == {"error"} and out["error"].startswith(message), (extra, out)


def test_a_prompt_that_cannot_fit_2048_positions_names_what_to_shorten(svc):
    clip = io.BytesIO()
    sf.write(clip, (0.1 * np.random.default_rng(0).standard_normal(24000 * 30)).astype(np.float32), 24000,
             format="FLAC")
    turn = {"text": "Thirty seconds of talk.", "speaker": 0, "audio_base64": b64(clip.getvalue())}
    out = queue_job(svc, {"text": "Does this fit?", "context": [turn] * 6})
    assert out["error"].startswith("context: the prompt (reference 0.0 s, context 180.0 s, text) takes ")
    assert out["error"].endswith("shorten the context or the reference audio")


@pytest.mark.slow
def test_long_text_is_chunked_and_every_chunk_is_generated(svc):
    sentences = [f"This is sentence number {i} of a longer answer that keeps one voice." for i in range(7)]
    out = queue_job(svc, {"text": " ".join(sentences), "max_audio_length_ms": 4000, "cache": False})
    assert out["duration_ms"] == 4000 and out["chunks_processed"] == 1  # the cap ends it after one chunk
    full = queue_job(svc, {"text": " ".join(sentences[:5]), "cache": False})
    assert full["chunks_processed"] == 2 and full["duration_ms"] > 10_000


def test_the_job_budget_stops_generation_inside_a_chunk(csm, tmp_path, monkeypatch):
    import time

    real_run = csm.loop.run

    def slow_step(rows):  # a frame every 20 ms: the chunk's ~260-frame budget would take over 5 s
        time.sleep(0.02)
        real_run(rows)

    monkeypatch.setattr(csm.loop, "run", slow_step)
    svc = csm_service(csm, tmp_path, max_job_seconds=1)
    text = "A long sentence that the tiny model would take several seconds to finish generating, frame by frame."
    t = time.monotonic()
    out = queue_job(svc, {"text": text * 2, "cache": False})
    assert out["error"].startswith("timeout: the job ran past its 1 s budget (MAX_JOB_SECONDS) with 0 of 1")
    assert time.monotonic() - t < 3  # generation stopped at the deadline, not at the end of its frame budget
    end = time.monotonic() + 2
    while csm.batcher.busy and time.monotonic() < end:  # its slot is freed at the batch's next turn
        time.sleep(0.01)
    assert csm.batcher.busy == 0


def test_engine_failures_that_poison_the_worker_ask_the_sdk_for_a_fresh_one(csm, tmp_path):
    class OutOfMemory:  # the CSM engine raises WorkerPoisoned on CUDA OOM; no CPU test can run out of GPU memory
        def __getattr__(self, name):
            return getattr(csm, name)

        def synthesize(self, *args):
            raise WorkerPoisoned("CUDA out of memory generating up to 10 s of audio")

    svc = TTSService(OutOfMemory(), AudioCache(str(tmp_path), 0), make_settings(), VoiceLibrary(str(tmp_path), 24000))
    out = queue_job(svc, {"text": "Hi."})
    assert out == {"error": "engine: CUDA out of memory generating up to 10 s of audio", "refresh_worker": True}


def test_a_missing_model_fails_at_start_naming_model_id_and_hf_token(monkeypatch, tmp_path):
    import huggingface_hub.constants

    from tts.engines.csm import CsmEngine

    # HF_HUB_OFFLINE is read when huggingface_hub is imported; a running test sets the constant itself.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(RuntimeError) as err:
        CsmEngine(make_settings(model_id="sesame/csm-1b", hf_token=None))
    assert "MODEL_ID='sesame/csm-1b'" in str(err.value) and "HF_TOKEN is not set" in str(err.value)
    with pytest.raises(RuntimeError, match="it is a local directory: check it holds the whole snapshot"):
        CsmEngine(make_settings(model_id=str(tmp_path)))


@pytest.mark.slow
def test_python_handler_py_with_the_csm_engine(model_dir, tmp_path):
    env = worker_env(tmp_path)
    env.update(TTS_ENGINE="csm", MODEL_ID=model_dir, DEVICE="cpu", VOICES_DIR=str(tmp_path / "v"))
    job = {"input": {"text": "From the handler.", "format": "ogg", "speaker": 2}}
    done = subprocess.run([sys.executable, os.path.join(ROOT, "handler.py"), "--test_input", json.dumps(job)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    samples, rate = sf.read(tmp_path / "output" / "local_test.ogg")
    assert rate == 24000 and len(samples) > 24000
    assert "engine csm ready" in done.stdout
    shutil.rmtree(tmp_path / "output")


def test_a_chunk_is_conditioned_on_the_previous_chunk(csm, svc):
    r = parse({"text": "Second part of the answer.", "seed": 3}, Capabilities.of(csm))
    alone = joined(csm.synthesize(r.text, r))
    first = joined(csm.synthesize("First part.", r))
    after = joined(csm.synthesize(r.text, r, previous=("First part.", first)))
    assert len(alone) and len(after) and not np.array_equal(alone, after)


def test_the_generate_reference_path_serves_jobs_and_stops_at_its_deadline(model_dir, tmp_path):
    import time

    from tts.engines import load_engine

    eng = load_engine("csm", make_settings(model_id=model_dir, device="cpu", csm_loop="generate"))
    try:
        assert (eng.variant, eng.max_concurrency, eng.loop, eng.busy) == ("generate", 1, None, 0)
        svc = csm_service(eng, tmp_path)
        out = queue_job(svc, {"text": "The reference path.", "format": "wav", "max_audio_length_ms": 800})
        assert "error" not in out, out
        samples, rate = decode(out)
        assert rate == 24000 and out["duration_ms"] == 800 and len(samples) == 800 * 24
        t = time.monotonic()
        late = eng.path.generate(eng.prompt([], 0, "Too late."), 200, 0, 0.9, 50, deadline=time.monotonic() - 1)
        assert len(late) == 0 and time.monotonic() - t < 2  # stopped after its first frame, not after 200
    finally:
        eng.close()
