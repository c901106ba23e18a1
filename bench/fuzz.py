"""Fuzz the worker at length; prints one JSON object with counts per outcome.

    python -m bench.fuzz                      # 10,000 requests (hibari), 2,000 (tiny CSM), 10,000 audio files
    python -m bench.fuzz --requests 500 --csm 0 --audio 500 --seed 3

Outcomes: "ok" (audio), "field error" / "refused" (a one-line "<field>: ..." error); anything starting with
FINDING is a bug (internal error, multi-line or unbounded error, a decoder exception, a job over budget).
Also reports the slowest job and the process's peak memory."""
from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10_000, help="hostile job inputs to the hibari worker")
    parser.add_argument("--csm", type=int, default=2_000, help="hostile job inputs to a tiny CSM worker")
    parser.add_argument("--audio", type=int, default=10_000, help="mutated audio files to the decoder")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-job-seconds", type=int, default=10, help="the worker's MAX_JOB_SECONDS")
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)  # a rejected request logs a line; thousands of them drown the report

    from cache import AudioCache
    from tools import fuzz
    from tools.tiny_csm import build_tiny_csm
    from tts import audio_input
    from tts.config import Settings
    from tts.engines import load_engine
    from tts.service import TTSService
    from tts.voices import VoiceLibrary

    report: dict = {"seed": args.seed}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(cache_dir=os.path.join(tmp, "cache"), voices_dir=os.path.join(tmp, "voices"), device="cpu",
                            max_job_seconds=args.max_job_seconds)
        budget_s = args.max_job_seconds + 5  # a job that outlives the worker's own budget is a finding
        runs = [("hibari", args.requests, lambda: load_engine("hibari", settings))]
        if args.csm:
            runs.append(("csm_tiny", args.csm, lambda: load_engine(
                "csm", Settings(model_id=build_tiny_csm(os.path.join(tmp, "csm")), device="cpu"))))
        for name, cases, load in runs:
            if not cases:
                continue
            engine = load()
            service = TTSService(engine, AudioCache(settings.cache_dir, 0), settings,
                                 VoiceLibrary(settings.voices_dir, engine.sample_rate))
            t = time.perf_counter()
            r = fuzz.run_requests(service, cases, args.seed, budget_s)
            report[f"requests_{name}"] = _summary(r, cases, time.perf_counter() - t)
        if args.audio:
            t = time.perf_counter()
            r = fuzz.run_audio(lambda data: audio_input.from_bytes("reference_audio", data, 24000), args.audio,
                               args.seed, 5.0)
            report["audio_decoder"] = _summary(r, args.audio, time.perf_counter() - t)
    report["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    report["total_s"] = round(time.perf_counter() - t0, 1)
    report["findings"] = sum(len(v.get("findings", [])) for v in report.values() if isinstance(v, dict))
    print(json.dumps(report, indent=2, ensure_ascii=False))
    sys.exit(1 if report["findings"] else 0)


def _summary(r, cases: int, seconds: float) -> dict:
    return {"cases": cases, "outcomes": dict(r.outcomes.most_common()), "slowest_job_s": round(r.slowest_s, 3),
            "wall_s": round(seconds, 1), "findings": r.findings[:20]}


if __name__ == "__main__":
    main()
