"""WS /ws/session: a real uvicorn on 127.0.0.1, the websockets client and the hibari engine. Ordering, cancels and
back-pressure are shown by what the runner and the metrics say the jobs did, not by timers."""
import base64
import contextlib
import itertools
import json
import time

import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from cache import AudioCache
from tests.helpers import app_server, make_settings, rms_db
from tts.doors.backend import Backend
from tts.service import TTSService
from tts.text.stream import Segmenter

SENTENCES = ["The first sentence is short.", "Here comes the second one.", "A third sentence follows it.",
             "The fourth is nearly the last.", "And this fifth sentence ends the text."]


def serve(engine, tmp_path, **settings):
    backend = Backend(make_settings(**settings))
    backend.ready(TTSService(engine, AudioCache(str(tmp_path / "cache"), 0), backend.settings))
    return backend, app_server(backend)


@pytest.fixture
def app(gated, tmp_path):
    backend, server = serve(gated, tmp_path)
    with server as port:
        yield port, backend


@contextlib.contextmanager
def session(port, config=None, **kwargs):
    """A configured session: (the client, the server's ready message)."""
    with connect(f"ws://127.0.0.1:{port}/ws/session", **kwargs) as ws:
        ws.send(json.dumps(config or {}))
        ready = json.loads(ws.recv(timeout=30))
        assert ready.get("session") == "ready", ready
        yield ws, ready


def until_done(ws, context_id="a"):
    """Every message up to the context's done (included)."""
    out = []
    while True:
        m = json.loads(ws.recv(timeout=30))
        out.append(m)
        if m.get("done") and m.get("context_id") == context_id:
            return out


def pcm(messages, context_id="a") -> np.ndarray:
    frames = [m for m in messages if m.get("context_id") == context_id and "audio" in m]
    assert [m["seq"] for m in frames] == list(range(len(frames)))
    data = b"".join(base64.b64decode(m["audio"]) for m in frames)
    return np.frombuffer(data, "<i2").astype(np.float32) / 32768


def wait_until(condition, timeout=10.0):
    end = time.monotonic() + timeout
    while not condition() and time.monotonic() < end:
        time.sleep(0.02)
    return condition()


def ulaw(data: bytes) -> np.ndarray:
    u = ~np.frombuffer(data, np.uint8) & 0xFF
    magnitude = ((((u & 0x0F).astype(np.int32) << 3) + 0x84) << ((u >> 4) & 7)) - 0x84
    return np.where(u & 0x80, -magnitude, magnitude).astype(np.float32) / 32768


def test_the_segmenter_never_cuts_inside_a_number_a_word_or_an_abbreviation():
    s = Segmenter(max_wait_ms=1000)
    out = []
    for token in ["It", " costs", " 3", ".", "14", " dollars", " at", " Dr", ".", " Smith", "'s", ".", " Then",
                  " more"]:
        out += s.add(token, 0.0)
    assert out == ["It costs 3.14 dollars at Dr. Smith's."]
    assert s.add("?", 0.0) == ["Then more?"]   # ! and ? after a word end it at once
    assert s.add("Thanks for calling Acme support,", 0.0) == []   # not a context's first segment any more
    assert Segmenter(1000).add("Thanks for calling Acme support,", 0.0) == ["Thanks for calling Acme support,"]
    waited = Segmenter(max_wait_ms=200)
    assert waited.add("no end in sight but wo", 0.0) == []
    assert waited.due(0.1) == [] and waited.due(0.3) == ["no end in sight but"]   # whole words only
    assert waited.flush() == ["wo"]


def test_audio_for_the_first_sentence_comes_before_the_third_is_sent(app):
    port, backend = app
    with session(port, {"voice": "heart"}) as (ws, ready):
        assert ready == {"session": "ready", "format": "pcm", "sample_rate": 24000, "chunk_ms": 100,
                         "engine": "hibari", "voice": "heart"}
        tokens = [[w if i == 0 else " " + w for i, w in enumerate(s.split())] for s in SENTENCES]
        tokens = [[t if j or not i else " " + t for j, t in enumerate(ts)] for i, ts in enumerate(tokens)]
        for t in tokens[0] + tokens[1][:1]:   # the next word shows the first sentence ended
            ws.send(json.dumps({"text": t, "context_id": "a"}))
        first = json.loads(ws.recv(timeout=30))   # before anything of sentence 3 is sent
        assert first["context_id"] == "a" and first["seq"] == 0 and len(base64.b64decode(first["audio"])) == 4800
        for t in tokens[1][1:] + tokens[2] + tokens[3] + tokens[4]:
            ws.send(json.dumps({"text": t, "context_id": "a"}))
        ws.send(json.dumps({"flush": True, "context_id": "a"}))
        messages = [first, *until_done(ws)]
        done = messages[-1]
        audio = pcm(messages)
        assert done == {"context_id": "a", "done": True, "audio_ms": round(len(audio) / 24), "segments": 5}
        seconds = len(audio) / 24000
        assert 6 < seconds < 14 and rms_db(audio) > -30   # ~150 characters of real speech
        lead = np.flatnonzero(np.abs(audio) > 0.02)[0] / 24   # the first lead is cut to the seam margin (60 ms)
        assert lead < 100


def test_two_contexts_each_end_with_done_and_a_bad_message_leaves_the_session_open(app):
    port, _ = app
    with session(port, {"format": "pcm", "sample_rate": 16000, "chunk_ms": 40}) as (ws, _):
        bad = [("not json", "input: not JSON"), ("[1]", "input: must be a JSON object"),
               (json.dumps({"text": 5, "context_id": "a"}), "text: must be a string"),
               (json.dumps({"text": "hi", "context_id": "no spaces"}), "context_id: must be 1 to 64"),
               (json.dumps({"cancel": "never"}), "cancel: no open context 'never'"),
               (json.dumps({"flush": True, "context_id": "x"}), "context_id: 'x' has nothing to flush"),
               (json.dumps({"text": "hi", "speed": 2}), "speed: not a field of this message"),
               (json.dumps({"event": "dance"}), "event: 'dance' is not a phone message"),
               (json.dumps({"hello": 1}), "input: unknown message with hello")]
        for message, error in bad:
            ws.send(message)
            got = json.loads(ws.recv(timeout=30))
            assert set(got) == {"error"} and got["error"].startswith(error), (message, got)
        ws.send(b"\x00binary")
        assert json.loads(ws.recv(timeout=30))["error"].startswith("input: a binary frame")
        ws.send(json.dumps({"text": "Context a speaks first. ", "context_id": "a"}))
        ws.send(json.dumps({"text": "Context b says something else.", "context_id": "b", "flush": True}))
        ws.send(json.dumps({"text": "Then a ends.", "context_id": "a", "flush": True}))
        messages = until_done(ws, "a")
        if not any(m.get("done") and m["context_id"] == "b" for m in messages):
            messages += until_done(ws, "b")
        for context_id in "ab":
            audio = pcm(messages, context_id)
            sizes = [len(base64.b64decode(m["audio"])) for m in messages if m.get("context_id") == context_id
                     and "audio" in m]
            assert set(sizes[:-1]) == {1280} and 0 < sizes[-1] <= 1280   # 40 ms at 16 kHz; the last one shorter
            assert len(audio) / 16000 > 1.0 and rms_db(audio) > -30
            done = next(m for m in messages if m.get("done") and m["context_id"] == context_id)
            assert done["audio_ms"] == round(len(audio) / 16)
            later = messages[messages.index(done):]
            assert not [m for m in later if m.get("context_id") == context_id and "audio" in m]
        ws.send(json.dumps({"text": "The same id again.", "context_id": "a", "flush": True}))   # a fresh context
        assert until_done(ws)[-1]["segments"] == 1


def test_the_first_message_is_checked_field_by_field(app):
    port, _ = app
    cases = [({"chunk_ms": 5}, "chunk_ms: must be a whole number from 20 to 1000"),
             ({"format": "mp3"}, "format: a session sends pcm, mulaw, alaw; got 'mp3'"),
             ({"phone": "skype"}, "phone: must be null"),
             ({"phone": "twilio"}, "streamSid: phone \"twilio\" needs"),
             ({"phone": "telnyx", "format": "pcm"}, "format: a phone line takes mulaw"),
             ({"max_wait_ms": 0}, "max_wait_ms: must be a whole number from 50 to 10000"),
             ({"speed": 9}, "speed: must be a number from 0.5 to 2.0"),
             ({"cache": True}, "cache: not a session setting"),
             ({"text": "Hi"}, "input: the first message configures the session"),
             ({"timestamps": "yes"}, "timestamps: must be true or false"),
             ({"spede": 1}, "spede: ")]
    with connect(f"ws://127.0.0.1:{port}/ws/session") as ws:
        for config, error in cases:
            ws.send(json.dumps(config))
            got = json.loads(ws.recv(timeout=30))
            assert set(got) == {"error"} and got["error"].startswith(error), (config, got)
        ws.send(json.dumps({"format": "alaw"}))
        assert json.loads(ws.recv(timeout=30))["sample_rate"] == 8000


def test_cancel_stops_the_running_job_in_its_step_and_nothing_of_the_context_follows(app, gated):
    port, backend = app
    with session(port) as (ws, _):
        service = backend.service
        gated.gate.clear()
        ws.send(json.dumps({"text": "One sentence first. And then another one. And a third.", "context_id": "a",
                            "flush": True}))
        assert wait_until(lambda: backend.runner.running == 1)   # the first segment's job is inside the engine
        ws.send(json.dumps({"text": "More?", "context_id": "a"}))
        assert json.loads(ws.recv(timeout=30))["error"].startswith("context_id: 'a' was flushed and is finishing")
        ws.send(json.dumps({"cancel": "a"}))
        assert json.loads(ws.recv(timeout=30)) == {"context_id": "a", "cancelled": True, "audio_ms_sent": 0}
        gated.gate.set()
        assert wait_until(lambda: backend.runner.running == 0)
        assert service.counts["synthesized"] == 0   # the job stopped at its step: never finished, nothing more ran
        ws.send(json.dumps({"text": "Another context.", "context_id": "b", "flush": True}))
        after = until_done(ws, "b")
        assert not [m for m in after if m.get("context_id") == "a"]
        assert service.counts["synthesized"] == 1
        # Cancelled while audio flows: the reply says how much was sent, and nothing of it follows the reply.
        ws.send(json.dumps({"text": " ".join(SENTENCES * 3), "context_id": "c", "flush": True}))
        first = json.loads(ws.recv(timeout=30))
        assert first["context_id"] == "c" and "audio" in first
        ws.send(json.dumps({"cancel": "c"}))
        sent = 1
        while "cancelled" not in (m := json.loads(ws.recv(timeout=30))):
            sent += 1
        assert m["audio_ms_sent"] == sent * 100
        assert wait_until(lambda: backend.runner.running == 0)
        synthesized = service.counts["synthesized"]
        assert synthesized < 1 + 15
        ws.send(json.dumps({"text": "Still here.", "context_id": "d", "flush": True}))
        assert not [m for m in until_done(ws, "d") if m.get("context_id") == "c"]
        assert service.counts["synthesized"] == synthesized + 1   # d's one segment: nothing more of c ran


def test_twilio_framing_is_forwardable_as_is_and_clear_cancels(app):
    port, backend = app
    with session(port, {"phone": "twilio", "streamSid": "MZ123"}) as (ws, ready):
        assert (ready["format"], ready["sample_rate"], ready["chunk_ms"]) == ("mulaw", 8000, 20)
        ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))   # ignored
        ws.send(json.dumps({"text": "Hello from the phone line.", "context_id": "turn-1", "flush": True}))
        messages = until_done(ws, "turn-1")
        media = [m for m in messages if m.get("event") == "media"]
        assert all(set(m) == {"event", "streamSid", "media"} and m["streamSid"] == "MZ123" and set(m["media"]) ==
                   {"payload"} for m in media)
        payloads = [base64.b64decode(m["media"]["payload"]) for m in media]
        assert {len(p) for p in payloads} == {160}   # 20 ms of 8 kHz mu-law each, the last one padded
        audio = ulaw(b"".join(payloads))
        assert 1.0 < len(audio) / 8000 < 3.5 and rms_db(audio) > -30
        assert messages[-2] == {"event": "mark", "streamSid": "MZ123", "mark": {"name": "turn-1"}}
        assert messages.index(messages[-2]) > messages.index(media[-1])
        assert messages[-1]["audio_ms"] == 20 * len(media)
        ws.send(json.dumps({"text": " ".join(SENTENCES * 3), "context_id": "turn-2", "flush": True}))
        assert json.loads(ws.recv(timeout=30))["event"] == "media"
        ws.send(json.dumps({"event": "clear", "streamSid": "MZ123"}))
        while (m := json.loads(ws.recv(timeout=30))).get("event") == "media":
            pass
        assert m == {"event": "clear", "streamSid": "MZ123"}   # forwarded, Twilio drops what it buffered
        assert json.loads(ws.recv(timeout=30))["cancelled"] is True
        assert wait_until(lambda: backend.runner.running == 0)


def test_a_slow_reader_pauses_generation_without_holding_a_job_thread_then_is_closed(engine, tmp_path):
    import socket

    backend, server = serve(engine, tmp_path, session_buffer_ms=1000, session_idle_s=3)
    with server as port:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)   # the client's kernel buffers little
        sock.connect(("127.0.0.1", port))
        with session(port, {"sample_rate": 48000, "chunk_ms": 1000}, sock=sock, max_queue=1) as (ws, _):
            text = " ".join(f"This is sentence number {i} of a long answer." for i in range(80))
            ws.send(json.dumps({"text": text, "context_id": "a", "flush": True}))   # ~200 s of audio; nobody reads

            def synthesized():
                return backend.service.counts["synthesized"]

            def still():
                before = synthesized()
                time.sleep(0.5)
                return synthesized() == before and backend.runner.running == 0

            assert wait_until(still, 20)
            assert 0 < synthesized() < 80   # paused between segments, with no job thread held
            assert backend.service.metrics.value("tts_sessions_open") == 1
            # Reading nothing for SESSION_IDLE_S, the session is closed and its context stopped.
            assert wait_until(lambda: backend.service.metrics.value("tts_sessions_open") == 0, 15)
            assert synthesized() < 80 and backend.runner.running == 0
            sock.close()


def test_sessions_past_max_sessions_are_closed_with_1013_and_idle_ones_with_1000(engine, tmp_path):
    backend, server = serve(engine, tmp_path, max_sessions=1, session_idle_s=1)
    with server as port, session(port) as (ws, _):
        with connect(f"ws://127.0.0.1:{port}/ws/session") as second, pytest.raises(ConnectionClosed) as closed:
            second.recv(timeout=10)
        assert closed.value.rcvd.code == 1013 and "MAX_SESSIONS" in closed.value.rcvd.reason
        with pytest.raises(ConnectionClosed) as idle:
            ws.recv(timeout=10)
        assert idle.value.rcvd.code == 1000 and "idle" in idle.value.rcvd.reason
        with session(port):   # the idle session's place is free again
            pass


def test_a_client_that_leaves_stops_its_jobs_and_caches_nothing(app, gated):
    port, backend = app
    with session(port) as (ws, _):
        gated.gate.clear()
        ws.send(json.dumps({"text": "I will leave. Before this ends.", "context_id": "a", "flush": True}))
        assert wait_until(lambda: backend.runner.running == 1)
    gated.gate.set()   # the client has left
    sessions = backend.service.metrics
    assert wait_until(lambda: backend.runner.running == 0 and sessions.value("tts_sessions_open") == 0)
    assert backend.service.counts["synthesized"] == 0 and backend.service.cache.stats()["writes"] == 0


def test_the_api_key_guards_the_session(engine, tmp_path):
    backend, server = serve(engine, tmp_path, api_key="s3cret")
    with server as port:
        with pytest.raises(InvalidStatus):
            connect(f"ws://127.0.0.1:{port}/ws/session")
        with session(port, additional_headers={"Authorization": "Bearer s3cret"}) as (_, ready):
            assert ready["engine"] == "hibari"


def test_text_without_a_sentence_end_is_spoken_after_max_wait_and_telnyx_frames_carry_no_stream_id(app):
    port, _ = app
    with session(port, {"phone": "telnyx", "max_wait_ms": 200}) as (ws, ready):
        assert ready["format"] == "mulaw"
        ws.send(json.dumps({"text": "so this goes on and on without an end", "context_id": "t"}))
        first = json.loads(ws.recv(timeout=10))   # no flush, no sentence end: spoken after 200 ms, whole words
        assert first["event"] == "media" and set(first) == {"event", "media"}
        ws.send(json.dumps({"flush": True, "context_id": "t"}))
        messages = until_done(ws, "t")
        assert messages[-2] == {"event": "mark", "mark": {"name": "t"}} and messages[-1]["segments"] == 2


def test_timestamps_follow_each_segments_audio_on_the_contexts_clock(app):
    port, _ = app
    with session(port, {"timestamps": True}) as (ws, _):
        for sentence in SENTENCES[:2]:
            ws.send(json.dumps({"text": sentence + " ", "context_id": "a"}))
        ws.send(json.dumps({"flush": True, "context_id": "a"}))
        messages = until_done(ws)
    words = [w for m in messages if "words" in m for w in m["words"]]
    assert [w["word"].lower() for w in words] == " ".join(SENTENCES[:2]).lower().replace(".", "").split()
    first_words = next(i for i, m in enumerate(messages) if "words" in m)
    assert any("audio" in m for m in messages[:first_words])       # a segment's words come after its audio
    audio = pcm(messages)
    audio_ms = len(audio) / 24
    assert all(0 <= w["start_ms"] < w["end_ms"] <= audio_ms + 1 for w in words)
    assert all(a["end_ms"] <= b["start_ms"] for a, b in itertools.pairwise(words))
    for w in words:   # each word's span holds speech
        part = audio[int(w["start_ms"] * 24):int(w["end_ms"] * 24)]
        assert np.sqrt(np.mean(part ** 2)) > 0.01, w


def test_subtitles_are_not_a_session_setting(app):
    port, _ = app
    with connect(f"ws://127.0.0.1:{port}/ws/session") as ws:
        ws.send(json.dumps({"subtitles": "srt"}))
        assert json.loads(ws.recv(timeout=30))["error"].startswith("subtitles: not a session setting")
