"""Fuzz the worker at length; prints one JSON line.

    python -m bench.fuzz                      # 10,000 requests (hibari), 2,000 (tiny CSM), 10,000 audio files
    python -m bench.fuzz --requests 20000 --csm 1000 --audio 5000 --faults 3
    python -m bench.fuzz --requests 500 --csm 0 --audio 500 --faults 0 --seed 3 --generators digits,numbers

Requests come from tools.fuzz's generators in turn (mixed, unicode, digits, numbers, nesting); every audio result
is decoded by libsndfile and FFmpeg and its length checked against duration_ms; --faults rounds of jobs go to
servers that drip their headers or never answer (an audio URL, a bucket). The line holds the cases run, the
internal errors (with a sample of the inputs that caused them), the hangs (jobs past their budget), the audio
results that did not decode or whose length disagreed, every other finding, each run's outcomes and time, and
the process's peak memory. Exit status 1 when anything was found."""
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

SAMPLES = 10   # inputs shown per kind of finding


def main() -> None:
    from tools import fuzz

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10_000, help="hostile job inputs to the hibari worker")
    parser.add_argument("--csm", type=int, default=2_000, help="hostile job inputs to a tiny CSM worker")
    parser.add_argument("--audio", type=int, default=10_000, help="mutated audio files to the decoder")
    parser.add_argument("--faults", type=int, default=2,
                        help="rounds of jobs against misbehaving servers, per engine (slow headers need --csm)")
    parser.add_argument("--generators", default=",".join(fuzz.GENERATORS),
                        help=f"request generators to take turns (default: all of {', '.join(fuzz.GENERATORS)})")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-job-seconds", type=int, default=10, help="the worker's MAX_JOB_SECONDS")
    args = parser.parse_args()
    generators = tuple(g.strip() for g in args.generators.split(",") if g.strip())
    if unknown := [g for g in generators if g not in fuzz.GENERATORS]:
        parser.error(f"unknown generators {unknown}; choose from {', '.join(fuzz.GENERATORS)}")
    logging.disable(logging.CRITICAL)  # a rejected request logs a line; thousands of them drown the report

    from cache import AudioCache
    from tools.tiny_csm import build_tiny_csm
    from tts import audio_input
    from tts.config import Settings
    from tts.engines import load_engine
    from tts.service import TTSService
    from tts.voices import VoiceLibrary

    runs: dict = {}
    everything = fuzz.Report()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(cache_dir=os.path.join(tmp, "cache"), voices_dir=os.path.join(tmp, "voices"), device="cpu",
                            max_job_seconds=args.max_job_seconds)
        budget_s = args.max_job_seconds + 5  # a job that outlives the worker's own budget is a finding
        engines = [("hibari", args.requests, lambda: load_engine("hibari", settings))]
        if args.csm:
            engines.append(("csm_tiny", args.csm, lambda: load_engine(
                "csm", Settings(model_id=build_tiny_csm(os.path.join(tmp, "csm")), device="cpu"))))
        for name, cases, load in engines:
            engine = load()
            service = TTSService(engine, AudioCache(settings.cache_dir, 0), settings,
                                 VoiceLibrary(settings.voices_dir, engine.sample_rate))
            if cases:
                t = time.perf_counter()
                r = fuzz.run_requests(service, cases, args.seed, budget_s, generators=generators)
                runs[f"requests_{name}"] = _summary(r, cases, time.perf_counter() - t)
                _merge(everything, r)
            if args.faults:
                t = time.perf_counter()
                r = fuzz.run_faults(service, args.faults, budget_s)
                runs[f"faults_{name}"] = _summary(r, sum(r.outcomes.values()), time.perf_counter() - t)
                _merge(everything, r)
        if args.audio:
            t = time.perf_counter()
            r = fuzz.run_audio(lambda data: audio_input.from_bytes("reference_audio", data, 24000), args.audio,
                               args.seed, 5.0)
            runs["audio_decoder"] = _summary(r, args.audio, time.perf_counter() - t)
            _merge(everything, r)
    findings = everything.findings
    report = {
        "seed": args.seed,
        "cases": sum(run["cases"] for run in runs.values()),
        "internal_errors": _kind(findings, "internal error"),
        "hangs": _kind(findings, "hang"),
        "audio_checked": everything.audio_checked,
        "audio_undecodable": _kind(findings, "audio does not decode"),
        "audio_length_disagrees": _kind(findings, "audio length disagrees"),
        "other_findings": _kind([f for f in findings if not f[0].startswith(_NAMED)], ""),
        "findings": len(findings),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "total_s": round(time.perf_counter() - t0, 1),
        "runs": runs,
    }
    print(json.dumps(report, ensure_ascii=False))
    sys.exit(1 if findings else 0)


_NAMED = ("FINDING internal error", "FINDING hang", "FINDING audio does not decode", "FINDING audio length disagrees")


def _merge(into, r) -> None:
    into.outcomes.update(r.outcomes)
    into.findings.extend(r.findings)
    into.audio_checked += r.audio_checked


def _kind(findings: list, what: str) -> dict:
    """How many findings of this kind, by generator, and a sample of their inputs (one per distinct message)."""
    mine = [f for f in findings if f[0].startswith(f"FINDING {what}")]
    by_generator: dict = {}
    samples, seen = [], set()
    for outcome, generator, case, detail in mine:
        by_generator[generator or "audio"] = by_generator.get(generator or "audio", 0) + 1
        shape = (generator, detail.split(" (see the worker log", 1)[0][:60])
        if shape not in seen and len(samples) < SAMPLES:
            seen.add(shape)
            samples.append({"generator": generator, "input": case, "outcome": detail or outcome})
    return {"count": len(mine), "by_generator": by_generator, "samples": samples}


def _summary(r, cases: int, seconds: float) -> dict:
    return {"cases": cases, "outcomes": dict(r.outcomes.most_common()), "slowest_job_s": round(r.slowest_s, 3),
            "wall_s": round(seconds, 1)}


if __name__ == "__main__":
    main()
