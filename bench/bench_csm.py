"""CSM generation benchmark: transformers' generate() against our frame loop, on random-weight models.

    python -m bench.bench_csm --host-overhead       # tiny widths, csm-1b's layers (16 backbone, 4 depth, 32 codebooks):
                                                    # the per-frame cost that is not arithmetic (about 1 minute here)
    python -m bench.bench_csm --frames 12 --runs 1  # full size (CsmConfig(): csm-1b's compute), CPU-sized run
    python -m bench.bench_csm --device cuda         # full size on a GPU: generate(), loop eager, loop + CUDA graphs
    python -m bench.bench_csm --device cuda --compile   # also the loop compiled by inductor (then graphed on CUDA)

Each path runs in a process of its own, through the engine as the worker runs it (all torch work on its model
thread), once per round; figures are medians over the rounds (--runs), ratios taken within a round. Random
weights never emit the end frame (and it is disabled), so every run makes exactly --frames frames.
Prints one JSON line. Keys, per path:
  ms_per_frame           steady time per frame of one request (generate(): between its streamer's frames; the
                         loop: one active row, steps back to back)
  rows_ms_per_frame      the loop's steady step time with 1, 2, 4 and 8 active rows (the batch)
  rtf                    whole stream call (prefill, frames, decoding) / audio length
  first_audio_ms         call to first audio piece; first_audio_frames: frames in that piece, counted
  syncs_per_frame        host syncs in a step (tools/syncs.py: what would make a GPU host wait)
  ops_per_step           aten operations one eager step dispatches at 1 and 4 rows (what the host pays when
                         kernels are not graphed; deterministic on any machine)
  start_s                engine start (warm-up; compile and capture of every row bucket)
loop_vs_generate = loop ms_per_frame / generate's; rtf_vs_generate likewise."""
from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

TEXT = "The quick brown fox jumps over the lazy dog, and then it runs back into the quiet forest."
FRAME_S = 0.08
ROWS = (1, 2, 4, 8)


def build(host_overhead: bool, device: str):
    """A random-weight CSM (host-overhead: tiny widths with csm-1b's layer counts; else full size) and its
    processor, built on `device`."""
    import torch
    from transformers import CsmConfig, CsmForConditionalGeneration

    from tools.tiny_csm import build_processor, tiny_config

    config = tiny_config(codebooks=32, backbone_layers=16, depth_layers=4) if host_overhead else CsmConfig()
    config.codebook_eos_token_id = -1  # never matches: every run makes exactly --frames frames
    torch.manual_seed(0)
    with torch.device(device):
        model = CsmForConditionalGeneration(config)
    # Random heads also sample the special ids past the codec's codebook (2048-2050 in csm-1b), which a trained
    # model never emits: clamp them where the codec reads them (no cost per generated frame).
    quantizer, top = model.codec_model.quantizer, config.codec_config.codebook_size - 1
    quantizer_decode = quantizer.decode
    quantizer.decode = lambda codes: quantizer_decode(codes.clamp(max=top))
    return model, build_processor(config.bos_token_id)


def engine(host_overhead: bool, device: str, **settings):
    """A CsmEngine on a model built by build(), on the engine's own model thread."""
    from tts.config import Settings
    from tts.engines.csm import CsmEngine

    return CsmEngine(Settings(device=device, **settings), factory=lambda: build(host_overhead, device))


class FrameClock:
    """A generate() streamer noting when each frame's codes arrive (its first put is the prompt)."""

    def __init__(self):
        self.times: list[float] = []
        self._prompt_seen = False

    def put(self, value):
        if self._prompt_seen:
            self.times.append(time.perf_counter())
        self._prompt_seen = True

    def end(self):
        pass


def _median(results: list[dict]) -> dict:
    return {k: round(statistics.median(r[k] for r in results), 3) for k in results[0]}


def measure_generate(eng, frames: int, runs: int) -> dict:
    from tools.syncs import count_syncs

    inputs = eng.prompt([], 0, TEXT)
    results = []
    for i in range(runs):
        clock = FrameClock()
        start = time.perf_counter()
        wave = eng.path.generate(inputs, frames, seed=i, temperature=0.9, top_k=50, streamer=clock)
        done = time.perf_counter()  # generate() returns audio already on the host: nothing left to wait for
        assert len(clock.times) == frames, len(clock.times)
        results.append({"ms_per_frame": (clock.times[-1] - clock.times[0]) / (frames - 1) * 1e3,
                        "rtf": (done - start) / (len(wave) / eng.sample_rate), "first_audio_ms": (done - start) * 1e3})

    def syncs(n):
        with count_syncs() as count:  # a dispatch mode counts on its own thread: run it where generate() runs
            eng.path.run(inputs, n, 0, 0.9, 50)
        return count.total

    out = _median(results)
    out["syncs_per_frame"] = (eng.thread.call(syncs, 4) - eng.thread.call(syncs, 2)) / 2
    out["first_audio_frames"] = frames
    return out


def measure_loop(eng, frames: int, runs: int, cuda: bool) -> dict:
    import torch

    from tools.syncs import count_syncs
    from tts.engines.csm_loop import count_ops

    inputs = eng.prompt([], 0, TEXT)
    results = []
    for i in range(runs):
        start = time.perf_counter()
        first, first_frames, samples = None, 0, 0
        for piece in eng.stream(inputs, frames, seed=i, temperature=0.9, top_k=50):
            if first is None:
                first, first_frames = time.perf_counter(), len(piece.samples) // round(eng.sample_rate * FRAME_S)
            samples += len(piece.samples)
        done = time.perf_counter()
        assert samples == frames * round(eng.sample_rate * FRAME_S), samples
        results.append({"rtf": (done - start) / (samples / eng.sample_rate), "first_audio_ms": (first - start) * 1e3,
                        "first_audio_frames": first_frames})
    out = _median(results)
    loop = eng.loop
    steps = max(3, min(frames - 1, 24))  # per block; the positions grow by 3 blocks of them

    def steady(rows: int) -> float:
        """Steady time of a step with `rows` active rows (the row bucket the batcher would run)."""
        embeds = eng.embed(inputs)
        for slot in range(rows):
            loop.prefill(slot, embeds, slot, 0.9, 50)
        loop.step(rows)
        blocks = []
        for _ in range(3):  # the median block: one slow moment of a shared machine does not decide it
            if cuda:
                torch.cuda.synchronize()
            t = time.perf_counter()
            for _ in range(steps):
                loop.step(rows)
            if cuda:
                torch.cuda.synchronize()
            blocks.append((time.perf_counter() - t) / steps)
        for slot in range(rows):
            loop.release(slot)
        return round(statistics.median(blocks) * 1e3, 3)

    def counts() -> dict:
        loop.prefill(0, eng.embed(inputs), 0, 0.9, 50)
        ops = {str(rows): count_ops(loop, rows).total for rows in (1, min(4, loop.slots))}
        with count_syncs() as syncs, torch.inference_mode():
            for _ in range(4):
                loop.step_fn(1)  # the step's own code, eagerly: nothing can count inside a compiled graph
        loop.release(0)
        return {"ops_per_step": ops, "syncs_per_frame": syncs.total / 4}

    rows = [r for r in ROWS if r <= loop.slots]
    by_rows = {str(r): eng.thread.call(steady, r) for r in rows}
    out["ms_per_frame"] = by_rows["1"]
    out["rows_ms_per_frame"] = by_rows
    out.update(eng.thread.call(counts))
    return out


def run_variant(args) -> dict:
    """One path in this process: start its engine, measure, report."""
    import torch

    from tts.engines.csm import resolve_device

    device = resolve_device(args.device)
    cuda = device.startswith("cuda")
    name = args.variant
    settings = {"csm_loop": "generate"} if name == "generate" else {
        "csm_loop": "loop", "csm_batch": max(ROWS), "csm_cuda_graphs": name in ("loop_graphs", "loop_compiled"),
        "csm_compile": name == "loop_compiled"}
    t = time.perf_counter()
    eng = engine(args.host_overhead, device, **settings)
    out = {"start_s": round(time.perf_counter() - t, 1), "dtype": str(eng.model.dtype).replace("torch.", "")}
    try:
        if name == "generate":
            out.update(measure_generate(eng, args.frames, args.runs))
        else:
            out.update(measure_loop(eng, args.frames, args.runs, cuda))
        if cuda:
            out["device"] = torch.cuda.get_device_name()
    finally:
        eng.close()
    return out


def _run_process(name: str, args) -> dict:
    command = [sys.executable, "-m", "bench.bench_csm", "--variant", name, "--frames", str(args.frames), "--runs",
               "1", "--device", args.device] + (["--host-overhead"] if args.host_overhead else [])
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"bench_csm: the {name} path failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _median_of(results: list[dict]) -> dict:
    """Per key, the median over results (numbers), per sub-key for dicts; other values from the first."""
    out = {}
    for key, value in results[0].items():
        if isinstance(value, dict):
            out[key] = _median_of([r[key] for r in results])
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = round(statistics.median(r[key] for r in results), 3)
        else:
            out[key] = value
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=None, help="frames per run (12.5 a second; default 25, "
                                                                  "or 125 on CUDA)")
    parser.add_argument("--runs", type=int, default=3, help="rounds: each path once per round, in its own process")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--compile", action="store_true", help="also measure the loop compiled with inductor")
    parser.add_argument("--host-overhead", action="store_true",
                        help="tiny widths, csm-1b's layer counts: the per-frame host cost of each path")
    parser.add_argument("--variant", help=argparse.SUPPRESS)  # internal: measure one path in this process
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("tts").setLevel(logging.WARNING)

    import torch

    from tts.engines.csm import resolve_device

    device = resolve_device(args.device)
    cuda = device.startswith("cuda")
    args.frames = args.frames or (125 if cuda else 25)
    if args.variant:
        print(json.dumps(run_variant(args)))
        return

    variants = ["generate", "loop"] + (["loop_graphs"] if cuda else []) + (["loop_compiled"] if args.compile else [])
    report: dict = {
        "model": "tiny widths, csm-1b layers (16 backbone, 4 depth, 32 codebooks)" if args.host_overhead
        else "CsmConfig() full size, random weights",
        "device": device if cuda else f"cpu ({os.cpu_count()} cores)", "frames": args.frames, "runs": args.runs,
        "torch": torch.__version__,
    }
    # Rounds: every path once per round, one run each, in its own process; a shared machine's speed drifts, so
    # the paths are interleaved and each ratio is taken within a round, then the median over rounds reported.
    rounds: list[dict] = []
    for _ in range(args.runs):
        rounds.append({name: _run_process(name, args) for name in variants})
    for name in variants:
        for key, value in _median_of([r[name] for r in rounds]).items():
            report[f"{name}_{key}"] = value
    for name in variants[1:]:
        report[f"{name}_vs_generate"] = round(statistics.median(
            r[name]["ms_per_frame"] / r["generate"]["ms_per_frame"] for r in rounds), 3)
        report[f"{name}_rtf_vs_generate"] = round(statistics.median(
            r[name]["rtf"] / r["generate"]["rtf"] for r in rounds), 3)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
