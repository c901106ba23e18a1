"""Seeded fuzzing in every CI run: hostile job inputs through the service (hibari and the tiny CSM), mutated
audio through the decoder. bench/fuzz.py runs the same generators for thousands of cases."""
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


def test_hostile_requests_get_audio_or_a_one_line_field_error(engine, tmp_path):
    service = TTSService(engine, AudioCache(str(tmp_path / "cache"), 0), make_settings(max_job_seconds=10))
    report = fuzz.run_requests(service, cases=400, seed=7, budget_s=15)
    assert_no_findings(report)
    assert report.outcomes["ok"] > 10 and report.outcomes["field error"] > 300
    assert queue_job(service, {"text": "Still alive."})["duration_ms"] > 0


@pytest.fixture(scope="module")
def tiny_csm(tmp_path_factory):
    from tools.tiny_csm import build_tiny_csm
    from tts.engines import load_engine

    return load_engine("csm", make_settings(model_id=build_tiny_csm(str(tmp_path_factory.mktemp("csm"))),
                                            device="cpu"))


def test_hostile_requests_to_a_cloning_engine(tiny_csm, tmp_path):
    service = TTSService(tiny_csm, AudioCache(str(tmp_path / "cache"), 0), make_settings(max_job_seconds=10),
                         VoiceLibrary(str(tmp_path / "voices"), tiny_csm.sample_rate))
    report = fuzz.run_requests(service, cases=150, seed=11, budget_s=15)
    assert_no_findings(report)
    assert report.outcomes["ok"] > 3


def test_mutated_audio_is_decoded_or_refused_never_raised():
    report = fuzz.run_audio(lambda data: audio_input.from_bytes("reference_audio", data, 24000), cases=600,
                            seed=3, budget_s=5)
    assert_no_findings(report)
    assert report.outcomes["decoded"] > 30 and report.outcomes["refused"] > 300
