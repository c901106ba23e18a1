"""Seeded fuzzing in every CI run: hostile job inputs through the service (hibari and the tiny CSM), hostile text
for the engine's front end, deep nesting, mutated audio through the decoder, and jobs against servers that drip
or never answer. Every audio result is decoded by libsndfile and FFmpeg and its length checked. bench/fuzz.py
runs the same generators for thousands of cases."""
import pytest

from cache import AudioCache
from tests.helpers import make_settings
from tools import fuzz
from tts import audio_input
from tts.doors.queue import queue_job
from tts.service import TTSService
from tts.voices import VoiceLibrary


def assert_no_findings(report: fuzz.Report) -> None:
    assert report.findings == [], "\n".join(map(str, report.findings[:10]))


@pytest.fixture
def hibari(engine, tmp_path):
    return TTSService(engine, AudioCache(str(tmp_path / "cache"), 0), make_settings(max_job_seconds=10))


def test_hostile_requests_get_audio_or_a_one_line_field_error(hibari):
    report = fuzz.run_requests(hibari, cases=400, seed=7, budget_s=15)
    assert_no_findings(report)
    assert report.outcomes["ok"] > 10 and report.outcomes["field error"] > 300
    assert report.audio_checked > 10
    assert queue_job(hibari, {"text": "Still alive."})["duration_ms"] > 0


@pytest.mark.parametrize("generator, cases", [
    ("unicode", 150),  # "➅", "⓵" and kin among the categories
    ("digits", 150),
    ("numbers", 60),
    ("nesting", 100),
])
def test_hostile_text_and_nesting_get_audio_or_a_field_error(hibari, generator, cases):
    report = fuzz.run_requests(hibari, cases=cases, seed=13, budget_s=15, generators=(generator,))
    assert sum(report.outcomes.values()) == cases and report.outcomes["ok"] + report.outcomes["field error"] > 0
    assert_no_findings(report)
    assert queue_job(hibari, {"text": "Still alive."})["duration_ms"] > 0


def test_audio_that_lies_about_its_length_is_a_finding():
    # The check every audio result gets: a WAV whose duration_ms is a second off, and bytes that are no audio.
    import base64
    import io

    import numpy as np
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.zeros(24000, np.float32), 24000, format="WAV", subtype="PCM_16")
    out = {"audio_base64": base64.b64encode(buf.getvalue()).decode(), "format": "wav", "sample_rate": 24000}
    assert fuzz.audio_problem({**out, "duration_ms": 1000}) is None
    assert fuzz.audio_problem({**out, "duration_ms": 2000}).startswith(
        "FINDING audio length disagrees: wav at 24000 Hz, libsndfile: 1.0000 s reported, 1.0000 s decoded")
    assert fuzz.audio_problem({**out, "audio_base64": "AAAA", "duration_ms": 1}).startswith(
        "FINDING audio does not decode: libsndfile cannot read the wav")


@pytest.fixture(scope="module")
def tiny_csm(tmp_path_factory):
    from tools.tiny_csm import build_tiny_csm
    from tts.engines import load_engine

    return load_engine("csm", make_settings(model_id=build_tiny_csm(str(tmp_path_factory.mktemp("csm"))),
                                            device="cpu"))


def csm_service(tiny_csm, tmp_path, max_job_seconds: int = 10) -> TTSService:
    return TTSService(tiny_csm, AudioCache(str(tmp_path / "cache"), 0), make_settings(max_job_seconds=max_job_seconds),
                      VoiceLibrary(str(tmp_path / "voices"), tiny_csm.sample_rate))


def test_hostile_requests_to_a_cloning_engine(tiny_csm, tmp_path):
    report = fuzz.run_requests(csm_service(tiny_csm, tmp_path), cases=150, seed=11, budget_s=15)
    assert_no_findings(report)
    assert report.outcomes["ok"] > 3 and report.audio_checked >= 3


@pytest.mark.parametrize("kind", [
    "slow headers",     # upload_voice: the cloning engine
    "silent bucket",    # synthesis, then the upload: hibari (quick)
    "dripping bucket",
])
def test_servers_that_drip_or_never_answer_end_the_job_within_its_budget(engine, tiny_csm, tmp_path, kind):
    settings = make_settings(max_job_seconds=3)
    service = csm_service(tiny_csm, tmp_path, max_job_seconds=3) if kind == "slow headers" else \
        TTSService(engine, AudioCache(str(tmp_path / "cache"), 0), settings)
    report = fuzz.run_faults(service, rounds=1, budget_s=4.5, kinds=(kind,))
    assert sum(report.outcomes.values()) == 1
    assert_no_findings(report)
    assert report.outcomes["field error"] == 1


def test_mutated_audio_is_decoded_or_refused_never_raised():
    report = fuzz.run_audio(lambda data: audio_input.from_bytes("reference_audio", data, 24000), cases=600,
                            seed=3, budget_s=5)
    assert_no_findings(report)
    assert report.outcomes["decoded"] > 30 and report.outcomes["refused"] > 300
