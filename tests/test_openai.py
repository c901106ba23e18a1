"""The OpenAI-compatible API (tts/doors/openai.py) with the real `openai` SDK against uvicorn on 127.0.0.1."""
import base64
import io
import json

import av
import numpy as np
import pytest
import soundfile as sf
from openai import AuthenticationError, BadRequestError, OpenAI, RateLimitError

from cache import AudioCache
from tests.helpers import app_server, make_settings
from tts.doors.backend import Backend
from tts.service import TTSService

FIVE = ("The first sentence is short. Here comes the second one. A third sentence follows it. "
        "The fourth is nearly the last. And this fifth sentence ends the text.")


@pytest.fixture
def client(gated, tmp_path):
    backend = Backend(make_settings(max_queue=0, max_concurrency=1))
    backend.ready(TTSService(gated, AudioCache(str(tmp_path / "cache"), 0), backend.settings))
    with app_server(backend) as port:
        yield OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="not-checked", max_retries=0)


def audio(data: bytes, fmt: str) -> tuple[np.ndarray, int]:
    if fmt == "pcm":  # OpenAI's pcm: 24 kHz, 16-bit little-endian, mono
        return np.frombuffer(data, "<i2").astype(np.float32) / 32768, 24000
    if fmt == "aac":  # ADTS: FFmpeg reads it (libsndfile does not)
        with av.open(io.BytesIO(data), format="aac") as container:
            frames = [f.to_ndarray().reshape(-1) for f in container.decode(audio=0)]
            return np.concatenate(frames).astype(np.float32), container.streams.audio[0].rate
    return sf.read(io.BytesIO(data), dtype="float32")


@pytest.mark.parametrize("fmt", ["mp3", "opus", "aac", "flac", "wav", "pcm"])
def test_every_response_format_through_the_sdk(client, fmt):
    data = client.audio.speech.create(model="tts-1", voice="alloy", input="Hello from the OpenAI SDK.",
                                      response_format=fmt).content
    samples, rate = audio(data, fmt)
    assert rate in (24000, 48000) and 1.0 < len(samples) / rate < 4 and np.sqrt(np.mean(samples ** 2)) > 0.01


def test_mp3_is_the_default_and_the_workers_own_fields_pass_through(client):
    data = client.audio.speech.create(model="gpt-4o-mini-tts", voice="nova", input="Default format.").content
    assert data[:3] == b"ID3" or data[0] == 0xFF  # an MPEG stream
    slow = client.audio.speech.create(model="tts-1", voice="nova", input="Default format.", response_format="wav",
                                      extra_body={"sample_rate": 16000, "seed": 3})
    assert sf.info(io.BytesIO(slow.content)).samplerate == 16000


def test_audio_streams_as_it_is_made(client, gated):
    gated.gate.clear()  # the engine holds its last sentence until the client has its first bytes
    with client.audio.speech.with_streaming_response.create(model="tts-1", voice="alloy", input=FIVE,
                                                            response_format="pcm") as response:
        chunks = response.iter_bytes(4096)
        first = next(chunks)
        assert first and not gated.gate.is_set()
        gated.gate.set()
        rest = b"".join(chunks)
    samples, rate = audio(first + rest, "pcm")
    assert len(samples) / rate > 4


def test_server_sent_events_carry_the_audio_then_done(client):
    with client.audio.speech.with_streaming_response.create(model="gpt-4o-mini-tts", voice="alloy", input=FIVE,
                                                            response_format="wav", stream_format="sse") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[len("data: "):]) for line in response.iter_lines() if line.startswith("data: ")]
    deltas = [e for e in events if e["type"] == "speech.audio.delta"]
    assert len(deltas) >= 2 and events[-1]["type"] == "speech.audio.done"
    assert events[-1]["usage"]["input_tokens"] == len(FIVE)
    samples, rate = sf.read(io.BytesIO(b"".join(base64.b64decode(e["audio"]) for e in deltas)))
    assert rate == 24000 and len(samples) / rate > 4


def test_errors_come_in_openais_shape_and_say_what_this_engine_cannot_do(client, gated):
    with pytest.raises(BadRequestError) as e:
        client.audio.speech.create(model="tts-1", voice="alloy", input="Hi.", speed=3.0)
    assert e.value.body["param"] == "speed" and "0.5 to 2.0" in e.value.body["message"]
    with pytest.raises(BadRequestError) as e:
        client.audio.speech.create(model="gpt-4o-mini-tts", voice="alloy", input="Hi.", instructions="Be cheerful.")
    assert e.value.body["param"] == "instructions" and e.value.body["type"] == "invalid_request_error"
    with pytest.raises(BadRequestError) as e:
        client.audio.speech.create(model="tts-1", voice="alloy", input="Hi.", response_format="wma")
    assert e.value.body["param"] == "response_format" and "unsupported format" in e.value.body["message"]
    gated.gate.clear()  # one job thread, no waiting line: a second request is told to come back
    held = client.audio.speech.with_streaming_response.create(model="tts-1", voice="alloy", input=FIVE,
                                                              response_format="pcm")
    with held as response:
        stream = response.iter_bytes(1024)  # kept: a dropped iterator closes the response, and the job with it
        next(stream)
        with pytest.raises(RateLimitError) as e:
            client.audio.speech.create(model="tts-1", voice="alloy", input="Me too.")
        assert e.value.body["code"] == "rate_limit_exceeded" and int(e.value.response.headers["retry-after"]) >= 1
        gated.gate.set()


def test_models_and_voices(client):
    assert {"tts-1", "tts-1-hd", "gpt-4o-mini-tts", "hibari"} <= {m.id for m in client.models.list()}
    voices = client.get("/audio/voices", cast_to=object)
    assert {v["id"] for v in voices["voices"]} >= {"alloy", "echo", "nova"}
    custom = client.audio.speech.create(model="tts-1", voice={"id": "heart"}, input="A voice of this worker.",
                                        response_format="wav")
    assert sf.info(io.BytesIO(custom.content)).duration > 0.5


def test_an_api_key_is_what_the_sdk_sends(engine, tmp_path):
    backend = Backend(make_settings(api_key="s3cret"))
    backend.ready(TTSService(engine, AudioCache(str(tmp_path), 0), backend.settings))
    with app_server(backend) as port:
        wrong = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="nope", max_retries=0)
        with pytest.raises(AuthenticationError):
            wrong.audio.speech.create(model="tts-1", voice="alloy", input="Hi.")
        right = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="s3cret", max_retries=0)
        assert len(right.audio.speech.create(model="tts-1", voice="alloy", input="Hi.").content) > 1000
