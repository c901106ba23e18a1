"""The example clients (examples/) against the SDK's local API, and the Python client's retry logic
against a scripted RunPod-like server on loopback."""
import json
import os
import shutil
import subprocess
import sys

import pytest
import soundfile as sf

from tests.helpers import ROOT, QuietHandler, rms_db, serve

sys.path.insert(0, os.path.join(ROOT, "examples"))
from tts_client import TTSClient, TTSError  # noqa: E402

pytestmark = pytest.mark.slow  # worker processes

EXAMPLES = os.path.join(ROOT, "examples")


def test_python_client_runsync_and_queue(local_api, tmp_path):
    base, _ = local_api
    client = TTSClient(base_url=base, local=True)
    data, meta = client.synthesize("The Python client works.", format="flac")
    path = tmp_path / "out.flac"
    path.write_bytes(data)
    samples, rate = sf.read(path)
    assert rate == 24000 and len(samples) / rate > 1 and rms_db(samples) > -35
    assert meta["format"] == "flac" and "audio_base64" not in meta
    queued = client.run({"text": "Queued through run and status."}, sync=False)
    assert queued["duration_ms"] > 1000


def test_python_client_streams_from_a_stream_endpoint(local_stream_api, tmp_path):
    client = TTSClient(base_url=local_stream_api[0], local=True)
    audio = client.stream("The client reads the stream. It has two sentences.", format="ogg")
    path = tmp_path / "streamed.ogg"
    with open(path, "wb") as f:
        for chunk in audio:
            f.write(chunk)
    samples, rate = sf.read(path)
    assert rate == 24000 and abs(len(samples) / rate * 1000 - audio.metadata["duration_ms"]) < 100
    assert audio.metadata["format"] == "ogg" and "first_audio_ms" in audio.metadata
    with pytest.raises(TTSError, match=r"^speed: must be a number from 0.5 to 2.0; got 3$"):
        list(client.stream("Hi", speed=3))
    done = subprocess.run([sys.executable, os.path.join(EXAMPLES, "tts_client.py"), "Streamed by the CLI.",
                           "-o", str(tmp_path / "cli.mp3"), "--base-url", local_stream_api[0], "--local",
                           "--stream"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert sf.info(str(tmp_path / "cli.mp3")).samplerate == 24000


def test_python_client_raises_the_workers_message(local_api):
    client = TTSClient(base_url=local_api[0], local=True)
    with pytest.raises(TTSError, match=r"^speed: must be a number from 0.5 to 2.0; got 3$"):
        client.run({"text": "Hi", "speed": 3})


def test_python_client_cli_writes_the_file(local_api, tmp_path):
    out = tmp_path / "cli.mp3"
    done = subprocess.run([sys.executable, os.path.join(EXAMPLES, "tts_client.py"), "From the command line.",
                           "-o", str(out), "--base-url", local_api[0], "--local", "--queue"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert sf.info(out).samplerate == 24000 and "s of mp3" in done.stdout


def test_python_client_cli_without_an_endpoint_says_what_to_set_in_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNPOD_")}
    done = subprocess.run([sys.executable, os.path.join(EXAMPLES, "tts_client.py"), "Hello", "-o",
                           str(tmp_path / "hello.mp3")], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == ("error: no endpoint: set RUNPOD_ENDPOINT_ID (and RUNPOD_API_KEY), or pass base_url "
                           "(for the SDK's local API: --base-url http://localhost:8000 --local)\n")


class Scripted(QuietHandler):
    """Answers each request with the next scripted (status, body, headers) and records the calls."""
    script: list = []
    calls: list = []

    def _answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.calls.append((self.command, self.path, self.rfile.read(length) if length else b""))
        status, body, headers = self.script.pop(0)
        self.reply(status, json.dumps(body).encode(), headers)

    do_GET = do_POST = _answer


@pytest.fixture
def scripted():
    Scripted.calls = []
    with serve(Scripted) as url:
        yield url


def test_429_is_retried_and_an_expired_runsync_is_polled_with_get(scripted):
    output = {"audio_base64": "", "duration_ms": 5}
    Scripted.script = [
        (429, {"error": "rate limited"}, {"Retry-After": "0"}),
        (429, {"error": "rate limited"}, {}),
        (200, {"id": "job-1", "status": "IN_QUEUE"}, {}),      # the 90 s runsync window ended first
        (200, {"id": "job-1", "status": "IN_PROGRESS"}, {}),
        (200, {"id": "job-1", "status": "COMPLETED", "output": output}, {}),
    ]
    client = TTSClient(base_url=scripted, api_key="key", backoff_s=0.01)
    assert client.run({"text": "Hi"}) == output
    assert [(m, p) for m, p, _ in Scripted.calls] == [
        ("POST", "/runsync"), ("POST", "/runsync"), ("POST", "/runsync"),
        ("GET", "/status/job-1"), ("GET", "/status/job-1")]


def test_errors_as_json_strings_and_empty_outputs(scripted):
    sdk_error = json.dumps({"error_type": "<class 'RuntimeError'>", "error_message": "boom", "traceback": "..."})
    Scripted.script = [(200, {"id": "j", "status": "FAILED", "error": sdk_error}, {}),
                       (200, {"id": "j", "status": "COMPLETED"}, {}),
                       (400, {"error": "bad request"}, {})]
    client = TTSClient(base_url=scripted, backoff_s=0.01)
    with pytest.raises(TTSError, match=r"^<class 'RuntimeError'>: boom$"):
        client.run({"text": "Hi"})
    with pytest.raises(TTSError, match="COMPLETED with no output"):
        client.run({"text": "Hi"})
    with pytest.raises(TTSError, match="HTTP 400"):
        client.run({"text": "Hi"})


@pytest.mark.parametrize("mode", ["runsync", "run"])
def test_curl_script(local_api, tmp_path, mode):
    if shutil.which("curl") is None:
        pytest.fail("curl is not installed (scripts/setup.sh installs it)")
    out = tmp_path / f"{mode}.wav"
    env = {**os.environ, "BASE_URL": local_api[0], "LOCAL": "1", "MODE": mode}
    done = subprocess.run(["bash", os.path.join(EXAMPLES, "curl.sh"), "Hello from curl.", str(out)],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    samples, rate = sf.read(out)
    assert rate == 24000 and rms_db(samples) > -35


def test_supabase_request_module_with_node(local_api):
    project = os.path.join(EXAMPLES, "supabase")
    if shutil.which("node") is None or not os.path.isdir(os.path.join(project, "node_modules")):
        if os.environ.get("CI"):
            pytest.fail("node and examples/supabase/node_modules are required in CI (scripts/setup.sh)")
        pytest.skip("node or examples/supabase/node_modules missing: run scripts/setup.sh")
    done = subprocess.run(["npm", "test", "--silent"], cwd=project, env={**os.environ, "TTS_BASE_URL": local_api[0]},
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout


def test_the_python_client_joins_a_stream_item_delivered_twice_once():
    import base64

    from tts_client import AudioStream

    def item(seq, data, done=False):
        return {"seq": seq, "audio_base64": base64.b64encode(data).decode(), "done": done, "format": "pcm"}

    stream = AudioStream(iter([item(0, b"ab"), item(1, b"cd"), item(1, b"cd"), item(2, b"", done=True)]))
    assert b"".join(stream) == b"abcd" and stream.metadata == {"format": "pcm"}
