"""WORKER_MODE=http: the FastAPI app under a real uvicorn on 127.0.0.1, called with http.client and the websockets
client. Streaming is shown by ordering: the engine holds its last sentence until the client has its first audio."""
import base64
import http.client
import io
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from cache import AudioCache
from tests.helpers import ROOT, app_server, free_port, make_settings, wait_for_port, worker_env
from tts.doors.backend import Backend
from tts.service import TTSService

FIVE = ("The first sentence is short. Here comes the second one. A third sentence follows it. "
        "The fourth is nearly the last. And this fifth sentence ends the text.")


@pytest.fixture
def app(gated, tmp_path):
    backend = Backend(make_settings(max_queue=0, max_concurrency=1))
    backend.ready(TTSService(gated, AudioCache(str(tmp_path / "cache"), 0), backend.settings))
    with app_server(backend) as port:
        yield port, backend


def request(port, method, path, body=None, headers=None, raw: bytes | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
    resp = conn.getresponse()
    return resp, resp.read()


def test_ping_is_204_while_loading_200_when_ready_and_503_when_failed(engine, tmp_path):
    backend = Backend(make_settings())
    with app_server(backend) as port:
        assert request(port, "GET", "/ping")[0].status == 204
        resp, body = request(port, "POST", "/generate", {"text": "Too early."})
        assert resp.status == 503 and json.loads(body)["error"].startswith("initializing:")
        assert resp.getheader("Retry-After") == "5"
        backend.ready(TTSService(engine, AudioCache(str(tmp_path), 0), backend.settings))
        resp, body = request(port, "GET", "/ping")
        assert resp.status == 200 and json.loads(body) == {"status": "healthy"}
        backend.state, backend.error = "failed", "worker cannot start: no model"
        resp, body = request(port, "GET", "/ping")
        assert resp.status == 503 and json.loads(body)["error"] == "worker cannot start: no model"


def test_generate_answers_like_the_queue_handler(app):
    port, backend = app
    resp, body = request(port, "POST", "/generate", {"text": "Hello over HTTP.", "format": "flac", "speaker_id": 0})
    out = json.loads(body)
    assert resp.status == 200 and out["format"] == "flac" and out["cache_hit"] is False
    samples, rate = sf.read(io.BytesIO(base64.b64decode(out["audio_base64"])))
    assert rate == 24000 and len(samples) / rate > 0.5
    # The queue's {"input": ...} envelope works too, and the same request is now a hit.
    resp, body = request(port, "POST", "/generate", {"input": {"text": "Hello over HTTP.", "format": "flac"}})
    assert json.loads(body)["cache_hit"] is True
    resp, body = request(port, "POST", "/generate", {"text": "Hi", "speed": 9})
    assert resp.status == 400 and json.loads(body) == {"error": "speed: must be a number from 0.5 to 2.0; got 9"}
    resp, body = request(port, "POST", "/generate", raw=b"{not json")
    assert resp.status == 400 and json.loads(body)["error"].startswith("input: the body is not JSON")
    resp, body = request(port, "POST", "/generate", {"action": "list_voices"})
    assert resp.status == 200 and json.loads(body)["engine"] == "hibari"


def test_an_unexpected_failure_is_500_and_logged_and_the_server_lives_on(app, gated, caplog):
    port, _ = app

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the engine")
        yield  # a generator, as engines are

    gated.synthesize = broken
    resp, body = request(port, "POST", "/generate", {"text": "This breaks."})
    assert resp.status == 500 and json.loads(body)["error"].startswith("internal: RuntimeError: a bug in the engine")
    assert "failed unexpectedly" in caplog.text and "a bug in the engine" in caplog.text
    del gated.synthesize
    assert request(port, "POST", "/generate", {"text": "Fine again."})[0].status == 200


def test_oversize_bodies_are_413(engine, tmp_path):
    backend = Backend(make_settings(max_request_bytes=2048))
    backend.ready(TTSService(engine, AudioCache(str(tmp_path), 0), backend.settings))
    with app_server(backend) as port:
        resp, body = request(port, "POST", "/generate", {"text": "x" * 5000})
        assert resp.status == 413
        # A small limit reads in bytes, not as "0.0 MB over the 0.0 MB limit".
        assert json.loads(body)["error"] == ("input: the body is over 2,048 bytes (5,012 bytes so far), past the "
                                             "limit (MAX_REQUEST_BYTES=2048); send audio by URL or shorter clips")


def test_metrics_publishes_what_the_worker_did_in_the_prometheus_format(app):
    port, _ = app
    assert request(port, "POST", "/generate", {"text": "Counted."})[0].status == 200
    assert request(port, "POST", "/generate", {"text": "Counted."})[0].status == 200  # a cache hit
    assert request(port, "POST", "/generate", {"text": "Bad.", "speed": 9})[0].status == 400
    assert request(port, "POST", "/generate", {"action": "health"})[0].status == 200
    resp, body = request(port, "GET", "/metrics")
    assert resp.status == 200 and resp.getheader("Content-Type").startswith("text/plain")
    samples = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    assert samples['tts_jobs_total{type="synthesis"}'] == 2 and samples['tts_jobs_total{type="action"}'] == 1
    assert samples['tts_jobs_total{type="invalid"}'] == 1  # it never parsed
    assert samples['tts_job_failures_total{kind="input"}'] == 1
    assert samples['tts_cache_lookups_total{result="hit"}'] == samples['tts_cache_lookups_total{result="miss"}'] == 1
    assert samples["tts_synthesized_total"] == 1 and samples["tts_real_time_factor_count"] == 1
    assert 0 < samples["tts_audio_seconds_total"] < 5 and samples["tts_job_seconds_count"] == 2
    assert samples["tts_jobs_running"] == 0 and samples["tts_jobs_waiting"] == 0
    health = json.loads(request(port, "GET", "/health")[1])
    assert health["counts"] == {"jobs": 4, "failed": 1, "cache_hits": 1, "synthesized": 1, "chunks_synthesized": 1}


def test_generate_audio_is_the_file_with_its_metadata_in_headers(app):
    port, _ = app
    resp, body = request(port, "POST", "/generate/audio", {"text": "The file itself.", "format": "mp3"})
    assert resp.status == 200 and resp.getheader("Content-Type") == "audio/mpeg"
    assert resp.getheader("Content-Disposition").startswith('attachment; filename="')
    assert resp.getheader("X-Cache-Hit") == "false" and len(resp.getheader("X-Cache-Key")) == 64
    assert resp.getheader("X-Sample-Rate") == "24000"
    samples, rate = sf.read(io.BytesIO(body))
    assert abs(len(samples) / rate * 1000 - int(resp.getheader("X-Duration-Ms"))) < 100


@pytest.mark.parametrize("fmt", ["wav", "mp3", "ogg", "pcm"])
def test_generate_stream_sends_audio_before_the_last_sentence_is_made(app, gated, fmt):
    port, _ = app
    gated.gate.clear()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", "/generate/stream", body=json.dumps({"text": FIVE, "format": fmt}))
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Transfer-Encoding") == "chunked"
    first = resp.read1(1 << 20)
    assert first and not gated.gate.is_set()  # audio arrived while the engine still held its last sentence
    gated.gate.set()
    data = first + resp.read()
    assert gated.waited == [True]
    if fmt == "pcm":
        samples = np.frombuffer(data, "<i2")
    else:
        samples, rate = sf.read(io.BytesIO(data))
        assert rate == 24000
    assert len(samples) / 24000 > 6


def test_the_websocket_speaks_the_voice_agent_protocol(app, gated):
    port, _ = app
    with connect(f"ws://127.0.0.1:{port}/ws/generate") as ws:
        gated.gate.clear()
        ws.send(json.dumps({"text": FIVE, "speaker_id": 0}))
        first = ws.recv(timeout=30)
        assert isinstance(first, bytes) and len(first) == 2 * 24000 * 200 // 1000  # 200 ms of int16 PCM
        assert not gated.gate.is_set()
        gated.gate.set()
        frames = [first]
        while isinstance(message := ws.recv(timeout=30), bytes):
            frames.append(message)
        done = json.loads(message)
        assert done["done"] is True and done["format"] == "pcm" and done["sample_rate"] == 24000
        assert all(len(f) == 9600 for f in frames[:-1]) and 0 < len(frames[-1]) <= 9600
        assert sum(map(len, frames)) == done["size_bytes"]
        # A bad request is an error frame; the connection stays open for the next one.
        ws.send(json.dumps({"text": "Hi", "speed": 9}))
        assert json.loads(ws.recv(timeout=30)) == {"error": "speed: must be a number from 0.5 to 2.0; got 9"}
        ws.send("not json")
        assert json.loads(ws.recv(timeout=30))["error"].startswith("input: not JSON")
        ws.send(json.dumps({"text": "Hello again.", "speaker": 0, "chunk_ms": 100, "sample_rate": 16000}))
        frames = []
        while isinstance(message := ws.recv(timeout=30), bytes):
            frames.append(message)
        assert len(frames[0]) == 2 * 16000 * 100 // 1000 and json.loads(message)["sample_rate"] == 16000
        ws.send(json.dumps({"text": "Hi.", "format": "mp3"}))
        assert json.loads(ws.recv(timeout=30))["error"].startswith("format: this connection sends pcm only")


def test_ping_answers_during_a_long_generation_and_a_full_line_is_429(app, gated):
    port, backend = app
    gated.gate.clear()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", "/generate/stream", body=json.dumps({"text": FIVE, "format": "pcm"}))
    resp = conn.getresponse()
    assert resp.read1(1 << 20)  # the job is running, holding its last sentence
    assert request(port, "GET", "/ping")[0].status == 200
    busy, body = request(port, "POST", "/generate", {"text": "Me too."})  # MAX_QUEUE=0: no waiting line
    assert busy.status == 429 and int(busy.getheader("Retry-After")) >= 1 and json.loads(body)["error"].startswith(
        "busy:")
    health = json.loads(request(port, "GET", "/health")[1])
    assert health["model_loaded"] and health["queue"]["running"] == 1 and "POST /generate/stream" in health[
        "endpoints"]
    gated.gate.set()
    resp.read()


def test_an_api_key_guards_every_route_but_ping(engine, tmp_path):
    backend = Backend(make_settings(api_key="s3cret"))
    backend.ready(TTSService(engine, AudioCache(str(tmp_path), 0), backend.settings))
    with app_server(backend) as port:
        assert request(port, "GET", "/ping")[0].status == 200
        assert request(port, "POST", "/generate", {"text": "Hi."})[0].status == 401
        assert request(port, "GET", "/health", headers={"Authorization": "Bearer wrong"})[0].status == 401
        assert request(port, "POST", "/generate", {"text": "Hi."}, {"Authorization": "Bearer s3cret"})[0].status == 200
        with pytest.raises(InvalidStatus, match="HTTP 403"):
            connect(f"ws://127.0.0.1:{port}/ws/generate")
        with connect(f"ws://127.0.0.1:{port}/ws/generate",
                     additional_headers={"Authorization": "Bearer s3cret"}) as ws:
            ws.send(json.dumps({"text": "Hi."}))
            assert isinstance(ws.recv(timeout=30), bytes)


def test_openapi_publishes_the_request_schema(app):
    port, _ = app
    spec = json.loads(request(port, "GET", "/openapi.json")[1])
    schemas = spec["components"]["schemas"]
    assert {"text", "voice", "speaker", "format", "sample_rate", "context"} <= set(schemas["SynthesisInput"][
        "properties"])
    assert schemas["SynthesisInput"]["required"] == ["text"] and "S3Config" in schemas
    assert schemas["UploadVoiceAction"]["properties"]["action"] == {"const": "upload_voice",
                                                                     "description": "or endpoint"}
    body = spec["paths"]["/generate"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"$ref": "#/components/schemas/SynthesisInput"} in body["oneOf"]
    assert request(port, "GET", "/docs")[0].status == 200


def test_the_python_clients_ws_stream(app, tmp_path):
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    from tts_client import TTSError, ws_stream

    port, _ = app
    audio = ws_stream(f"ws://127.0.0.1:{port}/ws/generate", "The client speaks WebSocket.", chunk_ms=100)
    pcm = b"".join(audio)
    assert len(pcm) == audio.metadata["size_bytes"] and audio.metadata["sample_rate"] == 24000
    with pytest.raises(TTSError, match="^speed: must be"):
        list(ws_stream(f"ws://127.0.0.1:{port}/ws/generate", "Hi", speed=5))
    done = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "tts_client.py"), "Over the socket.",
                           "-o", str(tmp_path / "ws.wav"), "--ws", f"ws://127.0.0.1:{port}/ws/generate"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert sf.info(str(tmp_path / "ws.wav")).samplerate == 24000 and "over the WebSocket" in done.stdout


@pytest.mark.slow
def test_worker_mode_http_serves_ping_on_its_own_port_and_stops_on_sigterm(tmp_path):
    port, health = free_port(), free_port()
    env = worker_env(tmp_path, WORKER_MODE="http", HOST="127.0.0.1", PORT=str(port), PORT_HEALTH=str(health))
    with open(tmp_path / "worker.log", "w") as log:
        proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "handler.py")], cwd=tmp_path, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        assert wait_for_port(health, proc, 60) and wait_for_port(port, proc, 60)
        deadline = time.monotonic() + 60
        while request(health, "GET", "/ping")[0].status != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert request(health, "GET", "/ping")[0].status == 200
        assert request(health, "POST", "/generate", {"text": "Hi."})[0].status == 404  # health port: /ping only
        resp, body = request(port, "POST", "/generate/audio", {"text": "From the image's CMD.", "format": "wav"})
        assert resp.status == 200 and sf.info(io.BytesIO(body)).samplerate == 24000
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "serving on http://127.0.0.1" in (tmp_path / "worker.log").read_text()


def test_absurdly_nested_json_is_a_400_on_http_and_an_error_frame_on_the_websocket(app):
    port, _ = app
    resp, body = request(port, "POST", "/generate", raw=b"[" * 100_000)
    assert resp.status == 400
    assert json.loads(body)["error"] == "input: the body is not a request: it nests 100000 levels deep; a request " \
                                        "nests at most 32"
    with connect(f"ws://127.0.0.1:{port}/ws/generate") as ws:
        ws.send("[" * 100_000)
        assert json.loads(ws.recv(timeout=30))["error"].startswith("input: the message is not a request: it nests")
        ws.send(b"\x00\x01binary")
        assert json.loads(ws.recv(timeout=30))["error"].startswith("input: a binary frame is not a request")
        ws.send(json.dumps({"text": "Still here."}))
        assert isinstance(ws.recv(timeout=30), bytes)  # the connection stayed open


def wait_until(condition, timeout=5.0):
    end = time.monotonic() + timeout
    while not condition() and time.monotonic() < end:
        time.sleep(0.02)
    return condition()


def test_a_client_that_leaves_stops_its_whole_job_and_a_websocket_job_waiting_in_line_never_starts(app, gated):
    port, backend = app
    gated.gate.clear()  # the job holds its last piece until the gate opens
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", "/generate", body=json.dumps({"text": FIVE, "cache": False}))
    assert wait_until(lambda: backend.runner.running == 1)
    conn.sock.close()  # the client leaves before its answer
    time.sleep(0.6)    # the route looks for a gone client every 0.2 s
    gated.gate.set()
    assert wait_until(lambda: backend.runner.running == 0)
    assert backend.service.counts["synthesized"] == 0  # stopped at a piece: never finished, nothing cached
    # A WebSocket request waits for the one job thread behind a running job, and its client leaves.
    gated.gate.clear()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", "/generate/stream", body=json.dumps({"text": FIVE, "format": "pcm", "cache": False}))
    resp = conn.getresponse()
    assert resp.read1(1 << 20)
    backend.runner.max_waiting = 1
    with connect(f"ws://127.0.0.1:{port}/ws/generate") as ws:
        ws.send(json.dumps({"text": "I will not wait.", "cache": False}))
        assert wait_until(lambda: backend.runner.waiting == 1)
    gated.gate.set()
    resp.read()
    assert wait_until(lambda: backend.runner.running == 0 and backend.runner.waiting == 0)
    assert backend.service.counts["jobs"] == 2  # the WebSocket job never ran
