"""Time to first audio through each streaming door; prints one JSON line.

    python -m bench.bench_stream                 # hibari and a tiny CSM, five sentences, 5 runs each
    python -m bench.bench_stream --engines hibari --runs 10

For each engine: the in-process stream (TTSService.run(stream=True)), POST /generate/stream, OpenAI's
POST /v1/audio/speech (response_format pcm) and WS /ws/generate of a WORKER_MODE=http worker on 127.0.0.1 (a real
uvicorn, cache off), and /ping's latency while a generation runs. first_audio_ms: request sent -> first audio bytes
received; total_ms: -> last byte. For CSM the in-process run also reports after how many frames the first audio
left the engine. Goals: first audio <= 0.25 x total on hibari for five sentences; on CSM, first audio after <= 3
frames; /v1/audio/speech's first audio equal to /generate/stream's within noise."""
from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import statistics
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tools.harness import http_worker  # noqa: E402

FIVE = ("The first sentence is short. Here comes the second one, a little longer than the first. A third "
        "sentence follows it. The fourth is nearly the last one. And this fifth sentence ends the text.")


def median(values: list[float]) -> float:
    return round(statistics.median(values), 1)


def in_process(service, runs: int, frame_samples: int | None = None) -> dict:
    """`frame_samples`: for CSM, the samples in one frame, to count how many frames the first audio carries (PCM at
    the native rate: 2 bytes a sample)."""
    from tts.events import Audio

    first, total, frames = [], [], []
    for i in range(runs):
        t = time.perf_counter()
        got = None
        for event in service.run({"text": FIVE, "format": "pcm", "cache": False, "seed": i}, "bench", stream=True,
                                 deliver=False):
            if isinstance(event, Audio) and got is None:
                got = time.perf_counter()
                if frame_samples:
                    frames.append(len(event.data) // 2 / frame_samples)
        total.append((time.perf_counter() - t) * 1e3)
        first.append((got - t) * 1e3)
    out = {"first_audio_ms": median(first), "total_ms": median(total)}
    out["first_audio_share"] = round(out["first_audio_ms"] / out["total_ms"], 3)
    if frame_samples:
        out["first_audio_frames"] = max(frames)
    return out


def http_stream(port: int, runs: int, path: str = "/generate/stream") -> dict:
    """POST /generate/stream, or OpenAI's POST /v1/audio/speech (path) with the same text as 24 kHz PCM."""
    first, total = [], []
    for i in range(runs):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        t = time.perf_counter()
        body = {"text": FIVE, "format": "pcm", "cache": False, "seed": i}
        if path != "/generate/stream":
            body = {"model": "tts-1", "input": FIVE, "voice": "alloy", "response_format": "pcm", "cache": False,
                    "seed": i}
        conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        assert resp.status == 200, resp.read()
        resp.read1(1 << 20)
        first.append((time.perf_counter() - t) * 1e3)
        resp.read()
        total.append((time.perf_counter() - t) * 1e3)
        conn.close()
    return {"first_audio_ms": median(first), "total_ms": median(total),
            "first_audio_share": round(median(first) / median(total), 3)}


def websocket(port: int, runs: int) -> dict:
    from websockets.sync.client import connect

    first, total = [], []
    with connect(f"ws://127.0.0.1:{port}/ws/generate") as ws:
        for i in range(runs):
            t = time.perf_counter()
            ws.send(json.dumps({"text": FIVE, "cache": False, "seed": i}))
            got = None
            while isinstance(message := ws.recv(timeout=600), bytes):
                got = got or time.perf_counter()
            assert json.loads(message)["done"], message
            total.append((time.perf_counter() - t) * 1e3)
            first.append((got - t) * 1e3)
    return {"first_audio_ms": median(first), "total_ms": median(total),
            "first_audio_share": round(median(first) / median(total), 3)}


def ping_during_generation(port: int) -> dict:
    """/ping latency while a long generation runs on the engine thread."""
    long_text = " ".join([FIVE] * 4)
    done = threading.Event()

    def generate():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        conn.request("POST", "/generate", body=json.dumps({"text": long_text, "cache": False, "format": "mp3"}))
        conn.getresponse().read()
        done.set()

    threading.Thread(target=generate, daemon=True).start()
    time.sleep(0.1)
    times = []
    while not done.is_set() and len(times) < 200:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        t = time.perf_counter()
        conn.request("GET", "/ping")
        assert conn.getresponse().status == 200
        times.append((time.perf_counter() - t) * 1e3)
        conn.close()
        time.sleep(0.02)
    done.wait(600)
    times.sort()
    return {"n": len(times), "p50_ms": round(times[len(times) // 2], 2), "max_ms": round(times[-1], 2)}


def http_doors(tmp: str, env: dict, runs: int) -> dict:
    with http_worker(tmp, env) as port:
        http_stream(port, 1)  # warm the connection path
        return {"http_generate_stream": http_stream(port, runs),
                "openai_speech": http_stream(port, runs, "/v1/audio/speech"), "websocket": websocket(port, runs),
                "ping_during_generation": ping_during_generation(port)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="hibari,csm", help="comma-separated: hibari, csm (a tiny CSM)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    logging.disable(logging.INFO)

    from cache import AudioCache
    from tools.tiny_csm import build_tiny_csm
    from tts.config import Settings
    from tts.engines import load_engine
    from tts.service import TTSService

    report = {"text_chars": len(FIVE), "sentences": 5, "runs": args.runs, "cpu_cores": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.engines.split(","):
            env = {"CACHE_DIR": os.path.join(tmp, "cache")}
            if name == "csm":
                env.update(TTS_ENGINE="csm", DEVICE="cpu", VOICES_DIR=os.path.join(tmp, "voices"),
                           MODEL_ID=build_tiny_csm(os.path.join(tmp, "tiny-csm")))
            settings = Settings.from_env({**env, "CACHE_MAX_BYTES": "0"})
            engine = load_engine(settings.engine, settings)
            service = TTSService(engine, AudioCache(settings.cache_dir, 0), settings)
            frame_samples = engine.sample_rate * 80 // 1000 if name == "csm" else None
            result = {"in_process": in_process(service, args.runs, frame_samples)}
            if hasattr(engine, "close"):
                engine.close()
            del service, engine
            result.update(http_doors(tmp, env, args.runs))
            report[name if name == "hibari" else "csm_tiny"] = result
    print(json.dumps(report))


if __name__ == "__main__":
    main()
