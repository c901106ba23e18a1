"""Throughput of one worker with many jobs at once; prints one JSON line.

    python -m bench.bench_batch                          # CPU: full-size CSM (few frames), host-overhead CSM, hibari
    python -m bench.bench_batch --only hibari
    python -m bench.bench_batch --device cuda --frames 125   # a GPU: full-size CSM in bf16, CUDA graphs

For 1, 2, 4 and 8 concurrent jobs (each on its own thread, as the queue and HTTP doors run them): aggregate
audio seconds per wall second, and p50/p95 job latency. CSM jobs are one request of exactly --frames frames each
(random weights, end frame disabled), all through the engine's continuous batcher (CSM_BATCH=8); hibari jobs
are whole requests through the service (wav, cache off). `speedup` is throughput over that of one job. The
host-overhead model runs with one torch thread (see main())."""
from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import threading
import time

from tts.doors.queue import queue_job

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

CONCURRENCY = (1, 2, 4, 8)
TEXTS = ["The quick brown fox jumps over the lazy dog.", "She sells sea shells by the sea shore.",
         "On the third of March many people came.", "A journey of a thousand miles begins with one step.",
         "Please call me back after lunch today.", "The rain in Spain stays mainly in the plain.",
         "Every good boy does fine on the test.", "Now is the time for all good people."]


def run_jobs(job, n: int) -> dict:
    """n jobs at once; job(i) -> audio seconds."""
    latencies, audio = [0.0] * n, [0.0] * n
    start = threading.Barrier(n + 1)

    def one(i):
        start.wait()
        t = time.perf_counter()
        audio[i] = job(i)
        latencies[i] = time.perf_counter() - t

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    latencies.sort()
    return {"audio_s_per_s": round(sum(audio) / wall, 3), "p50_s": round(statistics.median(latencies), 3),
            "p95_s": round(latencies[min(n - 1, int(0.95 * n))], 3), "wall_s": round(wall, 2)}


def sweep(job, concurrency=CONCURRENCY) -> dict:
    job(0)  # warm
    out = {str(n): run_jobs(job, n) for n in concurrency}
    base = out["1"]
    for r in out.values():
        r["speedup"] = round(r["audio_s_per_s"] / base["audio_s_per_s"], 2)
        r["p50_vs_alone"] = round(r["p50_s"] / base["p50_s"], 2)
    return out


def csm(host_overhead: bool, device: str, frames: int) -> dict:
    from bench.bench_csm import engine

    eng = engine(host_overhead, device, csm_loop="loop", csm_batch=max(CONCURRENCY))
    prompts = [eng.prompt([], i % 10, TEXTS[i]) for i in range(max(CONCURRENCY))]

    def job(i):
        samples = sum(len(p.samples) for p in eng.stream(prompts[i], frames, seed=i, temperature=0.9, top_k=50))
        return samples / eng.sample_rate

    result = sweep(job)
    return {"frames_per_job": frames, "slots": eng.loop.slots, "cuda_graphs": eng.cuda_graphs,
            "peak_batch": eng.batcher.peak_batch, "by_concurrency": result}


def hibari() -> dict:
    from cache import AudioCache
    from tts.config import Settings
    from tts.engines import load_engine
    from tts.service import TTSService

    settings = Settings(cache_dir="/nonexistent", cache_max_bytes=0)
    eng = load_engine("hibari", settings)
    service = TTSService(eng, AudioCache(settings.cache_dir, 0), settings)

    def job(i):
        out = queue_job(service, {"text": " ".join(TEXTS[i:] + TEXTS[:i]), "format": "wav", "cache": False})
        assert "error" not in out, out
        return out["duration_ms"] / 1000

    return {"max_concurrency": eng.max_concurrency, "by_concurrency": sweep(job)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=("csm", "host-overhead", "hibari"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--frames", type=int, default=None, help="frames per CSM job (default 8 on CPU, 125 CUDA)")
    args = parser.parse_args()
    logging.disable(logging.INFO)

    import torch

    from tts.config import free_cores
    from tts.engines.csm import resolve_device

    device = resolve_device(args.device)
    cuda = device.startswith("cuda")
    report = {"device": torch.cuda.get_device_name() if cuda else "cpu", "free_cores": free_cores(),
              "torch_threads": torch.get_num_threads()}
    if args.only in (None, "csm"):
        report["csm_full_size"] = csm(False, device, args.frames or (125 if cuda else 8))
    if args.only in (None, "host-overhead") and not cuda:
        # Tiny matrices: with two threads, a GEMM of 2+ rows spends ~100 us waking the other thread, which is noise
        # for a model whose arithmetic is nothing; one thread measures what batching saves of the host's work.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        report["csm_host_overhead"] = {"torch_threads": 1, **csm(True, device, args.frames or 25)}
        torch.set_num_threads(threads)
    if args.only in (None, "hibari") and not cuda:
        report["hibari"] = hibari()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
