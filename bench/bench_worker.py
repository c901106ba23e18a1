"""Worker benchmarks; prints one JSON object.

    python -m bench.bench_worker            # all: hit latency, miss overhead, cold start
    python -m bench.bench_worker --only hit

Figures (goals from the worker's issue):
  hit:   cache hit of a ~10 s mp3, in-process handler and through the SDK's local API (goal p50 <= 3 ms)
  miss:  worker end to end on a miss / raw engine on the same text (goal <= 1.15), per format
  cold:  process start -> engine ready, and -> first job answered (goal engine ready <= 1.5 s)
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tools.harness import free_port, wait_for_port, worker_env  # noqa: E402
from tts.doors.queue import QueueDoor, queue_job  # noqa: E402

# About ten seconds of speech.
TEXT = ("The quick brown fox jumps over the lazy dog. She sells sea shells by the sea shore. "
        "On the third of March, many people paid to hear it read aloud at half past seven.")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 3)


def summary(values: list[float]) -> dict:
    return {"p50_ms": pct(values, 0.5), "p95_ms": pct(values, 0.95), "n": len(values)}


def bench_hit(service, n: int) -> dict:
    """A cache hit through the queue door's handler function, on one event loop as the SDK runs it."""
    import asyncio

    request = {"text": TEXT, "format": "mp3"}
    door, loop = QueueDoor(service, service.settings), asyncio.new_event_loop()
    first = loop.run_until_complete(door.whole({"id": "bench", "input": request}))
    times = []
    for _ in range(n):
        t = time.perf_counter()
        out = loop.run_until_complete(door.whole({"id": "bench", "input": request}))
        times.append((time.perf_counter() - t) * 1e3)
        assert out["cache_hit"]
    loop.close()
    door.runner.close()
    result = {"audio_ms": first["duration_ms"], "mp3_bytes": first["size_bytes"], "in_process": summary(times)}
    result["local_api_runsync"] = bench_hit_api(request, n)
    return result


def bench_hit_api(request: dict, n: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "handler.py"), "--rp_serve_api",
                                 "--rp_api_host", "127.0.0.1", "--rp_api_port", str(port)],
                                cwd=tmp, env=worker_env(tmp), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            if not wait_for_port(port, proc, 90):
                raise RuntimeError("local API did not start")
            url = f"http://127.0.0.1:{port}/runsync"
            body = json.dumps({"input": request}).encode()
            _post(url, body)
            times = []
            for _ in range(n):
                t = time.perf_counter()
                out = _post(url, body)
                times.append((time.perf_counter() - t) * 1e3)
                assert out["output"]["cache_hit"]
            return summary(times)
        finally:
            proc.terminate()
            proc.wait(10)


def bench_miss(service, n: int) -> dict:
    from hibari import Hibari

    # The library the engine wraps, called directly: what the worker adds is the difference.
    raw_model = Hibari(threads=service.settings.hibari_threads)
    raw = []
    for _ in range(n):
        t = time.perf_counter()
        raw_model(TEXT, speed=1.0, seed=0)
        raw.append((time.perf_counter() - t) * 1e3)
    out = {"raw_engine": summary(raw)}
    for fmt in ("wav", "mp3", "ogg", "flac"):
        times = []
        for _ in range(n):
            t = time.perf_counter()
            result = queue_job(service, {"text": TEXT, "format": fmt, "cache": False})
            times.append((time.perf_counter() - t) * 1e3)
            assert "error" not in result
        s = summary(times)
        s["ratio_to_raw_p50"] = round(s["p50_ms"] / out["raw_engine"]["p50_ms"], 3)
        out[f"worker_{fmt}"] = s
    return out


def bench_cold(runs: int) -> dict:
    ready, first_job = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copy(os.path.join(ROOT, "test_input.json"), tmp)
            t = time.perf_counter()
            proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "handler.py")], cwd=tmp, env=worker_env(tmp),
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            lines = []
            for line in proc.stdout:
                lines.append(line)
                if "ready in" in line and not ready[len(first_job):]:
                    ready.append(time.perf_counter() - t)
            proc.wait()
            first_job.append(time.perf_counter() - t)
            if proc.returncode != 0:
                raise RuntimeError(f"the worker exited {proc.returncode}:\n{''.join(lines[-20:])}")
    return {"engine_ready_s": {"p50": pct(ready, 0.5), "max": round(max(ready), 3)},
            "first_job_done_s": {"p50": pct(first_job, 0.5), "max": round(max(first_job), 3)}, "runs": runs}


def _post(url: str, body: bytes) -> dict:
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["hit", "miss", "cold"])
    parser.add_argument("-n", type=int, default=200, help="requests per hit measurement")
    args = parser.parse_args()
    import logging

    logging.disable(logging.INFO)  # one log line per job would swamp the figures
    from tts.config import Settings
    from tts.service import build_service

    report: dict = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
    if args.only in (None, "cold"):
        report["cold_start"] = bench_cold(5)
    if args.only in (None, "hit", "miss"):
        with tempfile.TemporaryDirectory() as tmp:
            settings = dataclasses.replace(Settings.from_env(), cache_dir=tmp, output_dir=None)
            service = build_service(settings)
            if args.only in (None, "hit"):
                report["cache_hit"] = bench_hit(service, args.n)
            if args.only in (None, "miss"):
                report["miss"] = bench_miss(service, 15)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
