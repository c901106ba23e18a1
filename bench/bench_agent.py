"""A voice agent over WS /ws/session; prints one JSON line.

    python -m bench.bench_agent                  # latency, cancel, and capacity searched up to 64 sessions
    python -m bench.bench_agent --quick          # the smallest path: one run each, capacity 1 and 2 sessions
    python -m bench.bench_agent --csm            # also a tiny CSM's session: first audio after the first clause
                                                 # (ms over the socket; model frames from TTSService.speak)

A WORKER_MODE=http worker (hibari, a real uvicorn on 127.0.0.1) gets a language-model-like token stream: five
sentences as word and punctuation tokens at 15 tokens a second, then a flush. Measured:
- first_audio_after_clause_ms: the token that completes the first clause (its , or .) sent -> first audio frame;
- last_audio_after_last_token_ms: the last token (with the flush) sent -> the last audio frame;
- cancel_ms: a cancel sent while audio flows -> its reply, after which no frame of that context comes;
- max_realtime_sessions: the most sessions streaming at once (starts spread over one second) for which every
  session's audio stays ahead of a real-time playback clock started at its first frame: no frame arrives after
  the moment it would be played. Searched 1, 2, 4, ... up to --max, then bisected between the last level that
  held and the first that did not; `levels` has each level's worst margin (ms; negative: an underrun).
The client runs in this process on the same cores as the worker, so capacity is a lower bound.
- word_error_ms_p50 / _p95: word timestamps (the request's `timestamps`, through the service in this process) of
  words spoken apart (SSML breaks of 250-400 ms between them, so the truth is in the audio itself: each run of
  sound above -50 dB of the peak over 2 ms frames is one word); |reported - true| over every start and end.
  Both paths: hibari's own durations (what the worker returns), and forced alignment of the same files
  (pocketsphinx: what an engine without durations, CSM, gets): word_error_ms_alignment_p50 / _p95."""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tools.harness import http_worker  # noqa: E402

TEXT = ("Thanks for calling, I can help you with that today. Your order shipped on Monday and should arrive "
        "by Thursday afternoon. The tracking number is in the email we sent you. Is there anything else you "
        "would like to know about it? Have a wonderful rest of your day.")
TOKENS = re.findall(r"\s?\w+|[^\w\s]", TEXT)
RATE = 15.0          # tokens a second
FRAME_MS = 100       # the session's default chunk_ms: 2400 samples of 16-bit PCM at 24 kHz
FRAME_BYTES = 4800


async def stream_turn(port: int, start_delay: float = 0.0, config: dict | None = None) -> dict:
    """One session: the token stream, then flush; the arrival time and length of every frame."""
    from websockets.asyncio.client import connect

    await asyncio.sleep(start_delay)
    async with connect(f"ws://127.0.0.1:{port}/ws/session", max_size=None) as ws:
        await ws.send(json.dumps(config or {}))
        assert json.loads(await ws.recv())["session"] == "ready"
        frames: list[tuple[float, int]] = []
        done: dict = {}

        async def read() -> None:
            while True:
                m = json.loads(await ws.recv())
                if "audio" in m:
                    frames.append((time.perf_counter(), len(base64.b64decode(m["audio"]))))
                elif m.get("done"):
                    done.update(m)
                    return
                else:
                    raise RuntimeError(f"unexpected message: {m}")

        reader = asyncio.create_task(read())
        clause_at = None
        t = time.perf_counter()
        for i, token in enumerate(TOKENS):
            await asyncio.sleep(max(0.0, t + i / RATE - time.perf_counter()))
            await ws.send(json.dumps({"text": token, "context_id": "turn"}))
            if clause_at is None and token in (",", ".", "!", "?"):
                clause_at = time.perf_counter()
        await ws.send(json.dumps({"flush": True, "context_id": "turn"}))
        last_token_at = time.perf_counter()
        await asyncio.wait_for(reader, 120)
    return {"frames": frames, "clause_at": clause_at, "last_token_at": last_token_at, "done": done}


def margin_ms(frames: list[tuple[float, int]]) -> float:
    """The least time by which a frame came before it would be played (a clock started at the first frame)."""
    t0, played, worst = frames[0][0], frames[0][1] / FRAME_BYTES * FRAME_MS, float("inf")
    for arrived, size in frames[1:]:
        worst = min(worst, played - (arrived - t0) * 1000)
        played += size / FRAME_BYTES * FRAME_MS
    return worst


async def cancel_once(port: int) -> float:
    from websockets.asyncio.client import connect

    async with connect(f"ws://127.0.0.1:{port}/ws/session", max_size=None) as ws:
        await ws.send("{}")
        await ws.recv()
        await ws.send(json.dumps({"text": TEXT + " " + TEXT, "context_id": "c", "flush": True}))
        while "audio" not in json.loads(await ws.recv()):
            pass
        t = time.perf_counter()
        await ws.send(json.dumps({"cancel": "c"}))
        while "cancelled" not in (m := json.loads(await ws.recv())):
            pass
        took = (time.perf_counter() - t) * 1000
        await ws.send(json.dumps({"text": "Done.", "context_id": "d", "flush": True}))
        while not (m := json.loads(await ws.recv())).get("done"):
            if m.get("context_id") == "c":
                raise RuntimeError("audio of a cancelled context came after its cancel reply")
    return took


async def capacity_level(port: int, sessions: int) -> float:
    """The worst margin over `sessions` concurrent sessions (negative: some session ran dry)."""
    turns = await asyncio.gather(*(stream_turn(port, i / sessions) for i in range(sessions)))
    return min(margin_ms(turn["frames"]) for turn in turns)


async def measure(port: int, runs: int, levels: list[int]) -> dict:
    await stream_turn(port)   # warm-up
    first, last = [], []
    for _ in range(runs):
        turn = await stream_turn(port)
        first.append((turn["frames"][0][0] - turn["clause_at"]) * 1000)
        last.append((turn["frames"][-1][0] - turn["last_token_at"]) * 1000)
    cancels = [await cancel_once(port) for _ in range(runs)]
    tried: dict[int, float] = {}
    held, failed = 0, None
    for n in levels:
        tried[n] = await capacity_level(port, n)
        if tried[n] < 0:
            failed = n
            break
        held = n
    while failed is not None and held and failed - held > max(1, held // 8):
        n = (held + failed) // 2
        tried[n] = await capacity_level(port, n)
        held, failed = (n, failed) if tried[n] >= 0 else (held, n)
    return {"first_audio_after_clause_ms": round(statistics.median(first), 1),
            "last_audio_after_last_token_ms": round(statistics.median(last), 1),
            "cancel_ms": round(statistics.median(cancels), 1),
            "max_realtime_sessions": held,
            "levels": {str(n): round(m, 1) for n, m in sorted(tried.items())}}


async def csm_first_audio(port: int, runs: int) -> dict:
    """A tiny CSM's session: the first clause's token sent -> its first audio frame."""
    first = []
    await stream_turn(port, config={"chunk_ms": 20})   # warm-up
    for _ in range(runs):
        turn = await stream_turn(port, config={"chunk_ms": 20})
        first.append((turn["frames"][0][0] - turn["clause_at"]) * 1000)
    return {"csm_tiny_first_audio_after_clause_ms": round(statistics.median(first), 1)}


def csm_first_audio_frames(model_id: str, runs: int) -> float:
    """After how many model frames (80 ms of audio each) a session segment's first audio leaves the engine: the
    first Audio event of TTSService.speak (what /ws/session runs per segment), PCM at 24 kHz, in this process.
    Its lead silence is trimmed, so a 3-frame piece may count a little under 3."""
    from cache import AudioCache
    from tts.config import Settings
    from tts.engines import load_engine
    from tts.events import Audio
    from tts.schema import parse
    from tts.service import Speech, TTSService

    settings = Settings.from_env({"TTS_ENGINE": "csm", "DEVICE": "cpu", "MODEL_ID": model_id,
                                  "CACHE_MAX_BYTES": "0"})
    engine = load_engine("csm", settings)
    try:
        service = TTSService(engine, AudioCache(tempfile.mkdtemp(), 0), settings)
        frames = []
        for i in range(runs + 1):   # the first is a warm-up
            request = parse({"text": "x", "format": "pcm", "seed": i}, engine.capabilities(), 5000)
            events = service.speak(Speech(request), "Thanks for calling,", "bench")
            audio = next(e for e in events if isinstance(e, Audio))
            events.close()
            frames.append(len(audio.data) / (24000 * 2 * 0.08))
        return round(max(frames[1:]), 2)
    finally:
        engine.close()


APART = ["hello purple elephant basket", "window yesterday music morning", "coffee station garden tulips",
         "museum weekday traffic flight", "quickly clearly delayed again", "seven thirty tomorrow evening"]
BREAKS_MS = (250, 400, 300)


def sound_runs(samples, rate: int) -> list[tuple[float, float]]:
    """(start_ms, end_ms) of each run of 2 ms frames above -50 dB of the peak, runs closer than 150 ms joined."""
    import numpy as np

    f = rate // 500
    n = len(samples) // f
    rms = np.sqrt(np.mean(samples[: n * f].reshape(n, f) ** 2, axis=1))
    on = rms > rms.max() * 10 ** (-50 / 20)
    runs, start = [], None
    for i, loud in enumerate(on):
        if loud and start is None:
            start = i
        elif not loud and start is not None:
            runs.append([start * 2, i * 2])
            start = None
    if start is not None:
        runs.append([start * 2, n * 2])
    joined = [runs[0]] if runs else []
    for a, b in runs[1:]:
        if a - joined[-1][1] < 150:
            joined[-1][1] = b
        else:
            joined.append([a, b])
    return [(float(a), float(b)) for a, b in joined]


def word_error(sentences: list[str]) -> dict:
    import io

    import numpy as np
    import soundfile as sf

    from cache import AudioCache
    from tts.config import Settings
    from tts.doors.queue import queue_job
    from tts.engines import load_engine
    from tts.service import TTSService
    from tts.timestamps import align

    settings = Settings.from_env({"CACHE_MAX_BYTES": "0"})
    service = TTSService(load_engine("hibari", settings), AudioCache(tempfile.mkdtemp(), 0), settings)
    durations, alignment = [], []
    for text in sentences:
        words = text.split()
        ssml = "".join(w + (f'<break time="{BREAKS_MS[i % 3]}ms"/>' if i < len(words) - 1 else "")
                       for i, w in enumerate(words))
        out = queue_job(service, {"text": f"<speak>{ssml}</speak>", "timestamps": True, "format": "wav",
                                  "cache": False})
        samples, rate = sf.read(io.BytesIO(base64.b64decode(out["audio_base64"])), dtype="float32")
        truth = sound_runs(samples, rate)
        assert len(truth) == len(words) == len(out["words"]), (text, truth, out["words"])
        aligned = align(samples, rate, text)
        assert len(aligned) == len(words), (text, aligned)
        for got, into in ((out["words"], durations), (aligned, alignment)):
            for w, (a, b) in zip(got, truth, strict=True):
                into += [abs(w["start_ms"] - a), abs(w["end_ms"] - b)]
    return {"word_error_ms_p50": round(float(np.median(durations)), 1),
            "word_error_ms_p95": round(float(np.percentile(durations, 95)), 1),
            "word_error_ms_alignment_p50": round(float(np.median(alignment)), 1),
            "word_error_ms_alignment_p95": round(float(np.percentile(alignment, 95)), 1),
            "word_boundaries": len(durations)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="latency and cancel runs (medians)")
    parser.add_argument("--max", type=int, default=64, help="the most concurrent sessions tried")
    parser.add_argument("--quick", action="store_true", help="one run each, and capacity up to 2 sessions")
    parser.add_argument("--csm", action="store_true", help="also a tiny CSM's first audio after the first clause")
    args = parser.parse_args()
    runs, top = (1, 2) if args.quick else (args.runs, args.max)
    levels = [n for n in (1, 2, 4, 8, 16, 32, 64, 128, 256) if n <= top]
    with tempfile.TemporaryDirectory() as tmp, \
            http_worker(tmp, {"CACHE_DIR": os.path.join(tmp, "cache"), "MAX_SESSIONS": str(top + 8)}) as port:
        report = asyncio.run(measure(port, runs, levels))
    report.update(word_error(APART[:1] if args.quick else APART))
    if args.csm:
        from tools.tiny_csm import build_tiny_csm

        with tempfile.TemporaryDirectory() as tmp:
            env = {"TTS_ENGINE": "csm", "DEVICE": "cpu", "MODEL_ID": build_tiny_csm(os.path.join(tmp, "csm")),
                   "CACHE_DIR": os.path.join(tmp, "cache"), "VOICES_DIR": os.path.join(tmp, "voices")}
            with http_worker(tmp, env) as port:
                report.update(asyncio.run(csm_first_audio(port, runs)))
            report["csm_tiny_first_audio_frames"] = csm_first_audio_frames(env["MODEL_ID"], runs)
    print(json.dumps({"tokens": len(TOKENS), "tokens_per_s": RATE, "cpu_cores": os.cpu_count(), **report}))


if __name__ == "__main__":
    main()
