"""The real runpod SDK around our handler: `python handler.py` and its local API on 127.0.0.1."""
import base64
import io
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request

import pytest
import soundfile as sf

from tests.helpers import ROOT, decode, rms_db, worker_env

pytestmark = pytest.mark.slow  # worker processes

def post(url: str, body: dict | None = None, timeout: float = 60) -> dict:
    # No body when there is none to send: the local API does not read one on /status, and unread bytes
    # make the server's close reset the connection.
    req = urllib.request.Request(url, data=b"" if body is None else json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read())


def test_runsync_returns_real_audio(local_api):
    base, _ = local_api
    body = post(f"{base}/runsync", {"input": {"text": "Testing the local API.", "format": "mp3"}})
    assert body["status"] == "COMPLETED", body
    samples, rate = decode(body["output"])
    assert rate == 24000 and len(samples) / rate > 0.8 and rms_db(samples) > -35
    again = post(f"{base}/runsync", {"input": {"text": "Testing  the local API.", "format": "mp3"}})
    assert again["output"]["cache_hit"] is True


def test_run_then_status_returns_real_audio(local_api):
    base, _ = local_api
    job = post(f"{base}/run", {"input": {"text": "Queued job.", "response_format": "flac", "sample_rate": 16000}})
    assert job["status"] == "IN_PROGRESS" and job["id"]
    body = post(f"{base}/status/{job['id']}")
    assert body["status"] == "COMPLETED", body
    samples, rate = decode(body["output"])
    assert rate == 16000 and rms_db(samples) > -35


def test_bad_input_fails_the_job_and_the_worker_lives_on(local_api):
    base, log_path = local_api
    body = post(f"{base}/runsync", {"input": {"text": "Hi", "format": "wma"}})
    assert body["status"] == "FAILED"
    assert body["error"] == ("format: unsupported format 'wma'; allowed: wav, mp3, ogg, flac, pcm, aac, m4a, "
                             "mulaw, alaw, wav_mulaw, wav_alaw")
    health = post(f"{base}/runsync", {"input": {"action": "health"}})
    assert health["status"] == "COMPLETED" and health["output"]["engine"] == "hibari"
    logs = log_path.read_text()
    assert "job=" in logs and "audio_base64" not in logs and "DEBUG" not in logs


def test_python_handler_py_runs_test_input_json_and_writes_the_audio(tmp_path):
    shutil.copy(os.path.join(ROOT, "test_input.json"), tmp_path)
    done = subprocess.run([sys.executable, os.path.join(ROOT, "handler.py")], cwd=tmp_path,
                          env=worker_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    request = json.loads((tmp_path / "test_input.json").read_text())["input"]
    path = tmp_path / "output" / f"local_test.{request['format']}"
    import soundfile as sf

    samples, rate = sf.read(path)
    assert rate == 24000 and len(samples) / rate > 3 and rms_db(samples) > -35
    assert f"audio written to output/local_test.{request['format']}" in done.stdout
    # One line for the person at the terminal: where the file is, how long, what format, how it was made.
    summary = [line for line in done.stdout.splitlines() if line.startswith("local_test: ")]
    assert len(summary) == 1 and re.fullmatch(
        rf"local_test: wrote output/local_test\.{request['format']}: \d+\.\d s of {request['format']} at 24000 Hz, "
        r"\d+\.\d kB, generated in \d+\.\d\d s", summary[0]), summary
    assert len(done.stdout) < 5000  # no base64 dumped into the log


def test_python_handler_py_exits_1_on_a_bad_request(tmp_path):
    done = subprocess.run([sys.executable, os.path.join(ROOT, "handler.py"), "--test_input",
                           json.dumps({"input": {"text": ""}})], cwd=tmp_path, env=worker_env(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    # The promised one line comes last, after the SDK's own error line.
    assert done.stdout.strip().splitlines()[-1].startswith(
        "local_test: FAILED: text: is empty after whitespace is collapsed")
    assert done.stdout.count("local_test: FAILED") == 1


@pytest.mark.parametrize("env, message", [
    ({"TTS_ENGINE": "nope"}, "worker cannot start: TTS_ENGINE='nope' is not a known engine; choose one of: hibari"),
    ({"MAX_TEXT_CHARS": "lots"}, "worker cannot start: MAX_TEXT_CHARS='lots' is not a whole number"),
    ({"TTS_ENGINE": "csm", "MODEL_ID": "/nonexistent/csm-1b"},
     "worker cannot start: could not load the CSM model: MODEL_ID=/nonexistent/csm-1b does not exist"),
])
def test_a_misconfigured_worker_stops_at_start_with_one_clear_line(tmp_path, env, message):
    done = subprocess.run([sys.executable, os.path.join(ROOT, "handler.py")], cwd=tmp_path,
                          env={**worker_env(tmp_path), **env}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert message in done.stdout and "Traceback" not in done.stdout + done.stderr


def joined_items(items: list[dict]) -> bytes:
    return b"".join(base64.b64decode(item["audio_base64"]) for item in items)


def test_stream_mode_delivers_items_through_stream_and_runsync(local_stream_api):
    base, log_path = local_stream_api
    job = post(f"{base}/run", {"input": {"text": "Streamed through the queue. Two sentences.", "format": "mp3"}})
    body = post(f"{base}/stream/{job['id']}")
    assert body["status"] == "COMPLETED", body
    items = [chunk["output"] for chunk in body["stream"]]
    assert [i["seq"] for i in items] == list(range(len(items))) and items[-1]["done"] is True
    samples, rate = sf.read(io.BytesIO(joined_items(items)))
    assert rate == 24000 and len(samples) / rate > 1.5 and rms_db(samples) > -35
    # /runsync returns the aggregated list of the same items; the repeat is served from the cache
    again = post(f"{base}/runsync", {"input": {"text": "Streamed through the queue. Two sentences.",
                                               "format": "mp3"}})
    assert again["status"] == "COMPLETED" and again["output"][-1]["cache_hit"] is True
    assert isinstance(again["output"], list) and sf.info(io.BytesIO(joined_items(again["output"]))).samplerate
    # The local API aggregates a failed stream's items as they are; deployed, the SDK fails the job on an error
    # item (tests/test_deployed.py shows that).
    failed = post(f"{base}/runsync", {"input": {"text": "Hi", "speed": 9}})
    assert failed["output"] == [{"error": "speed: must be a number from 0.5 to 2.0; got 9"}]
    assert "audio_base64" not in log_path.read_text()


def test_python_handler_py_in_stream_mode_runs_the_stream_and_writes_the_audio(tmp_path):
    shutil.copy(os.path.join(ROOT, "test_input.json"), tmp_path)
    done = subprocess.run([sys.executable, os.path.join(ROOT, "handler.py")], cwd=tmp_path,
                          env=worker_env(tmp_path, HANDLER_MODE="stream"), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"local_test: wrote output/local_test\.mp3: \d+\.\d s of mp3", done.stdout), done.stdout
    assert sf.info(str(tmp_path / "output" / "local_test.mp3")).samplerate == 24000
