"""The real runpod SDK around our handler: `python handler.py` and its local API on 127.0.0.1."""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import ROOT, decode, rms_db

STARTUP_TIMEOUT_S = 90


def worker_env(tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNPOD_")}
    env.update(CACHE_DIR=str(tmp_path / "cache"), RUNPOD_SKIP_AUTO_SYSTEM_CHECKS="true", PYTHONUNBUFFERED="1")
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, body: dict | None = None, timeout: float = 60) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body or {}).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read())


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api")
    port = free_port()
    log = open(tmp / "worker.log", "w+")
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "handler.py"), "--rp_serve_api",
                             "--rp_api_host", "127.0.0.1", "--rp_api_port", str(port)],
                            cwd=tmp, env=worker_env(tmp), stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                log.seek(0)
                pytest.fail(f"local API did not start:\n{log.read()[-3000:]}")
            time.sleep(0.2)
    yield f"http://127.0.0.1:{port}", tmp / "worker.log"
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_runsync_returns_real_audio(api):
    base, _ = api
    body = post(f"{base}/runsync", {"input": {"text": "Testing the local API.", "format": "mp3"}})
    assert body["status"] == "COMPLETED", body
    samples, rate = decode(body["output"])
    assert rate == 24000 and len(samples) / rate > 0.8 and rms_db(samples) > -35
    again = post(f"{base}/runsync", {"input": {"text": "Testing  the local API.", "format": "mp3"}})
    assert again["output"]["cache_hit"] is True


def test_run_then_status_returns_real_audio(api):
    base, _ = api
    job = post(f"{base}/run", {"input": {"text": "Queued job.", "response_format": "flac", "sample_rate": 16000}})
    assert job["status"] == "IN_PROGRESS" and job["id"]
    body = post(f"{base}/status/{job['id']}")
    assert body["status"] == "COMPLETED", body
    samples, rate = decode(body["output"])
    assert rate == 16000 and rms_db(samples) > -35


def test_bad_input_fails_the_job_and_the_worker_lives_on(api):
    base, log_path = api
    body = post(f"{base}/runsync", {"input": {"text": "Hi", "format": "aac"}})
    assert body["status"] == "FAILED"
    assert body["error"] == "format: unsupported format 'aac'; allowed: wav, mp3, ogg, flac, pcm"
    health = post(f"{base}/runsync", {"input": {"action": "health"}})
    assert health["status"] == "COMPLETED" and health["output"]["engine"] == "hibari"
    logs = log_path.read_text()
    assert "job=" in logs and "audio_base64" not in logs and "DEBUG" not in logs


def test_python_handler_py_runs_test_input_json_and_writes_the_audio(tmp_path):
    shutil.copy(os.path.join(ROOT, "test_input.json"), tmp_path)
    done = subprocess.run([sys.executable, os.path.join(ROOT, "handler.py")], cwd=tmp_path,
                          env=worker_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    request = json.load(open(tmp_path / "test_input.json"))["input"]
    path = tmp_path / "output" / f"local_test.{request['format']}"
    import soundfile as sf

    samples, rate = sf.read(path)
    assert rate == 24000 and len(samples) / rate > 3 and rms_db(samples) > -35
    assert f"audio written to output/local_test.{request['format']}" in done.stdout
    assert len(done.stdout) < 5000  # no base64 dumped into the log


def test_python_handler_py_exits_1_on_a_bad_request(tmp_path):
    done = subprocess.run([sys.executable, os.path.join(ROOT, "handler.py"), "--test_input",
                           json.dumps({"input": {"text": ""}})], cwd=tmp_path, env=worker_env(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "text: is empty after whitespace is collapsed" in done.stdout
