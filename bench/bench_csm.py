"""CSM generation benchmark: transformers' generate() against our frame loop, on random-weight models.

    python -m bench.bench_csm --host-overhead       # tiny widths, csm-1b's layers (16 backbone, 4 depth, 32 codebooks):
                                                    # the per-frame cost that is not arithmetic; prints one JSON line
    python -m bench.bench_csm --frames 12 --runs 1  # full size (CsmConfig(): csm-1b's compute), CPU-sized run
    python -m bench.bench_csm --device cuda         # full size on a GPU: generate(), loop eager, loop + CUDA graphs
    python -m bench.bench_csm --device cuda --compile   # also the loop compiled by inductor, then graphed

Random weights never emit the end frame (and it is disabled), so every run makes exactly --frames frames.
Keys: *_ms_per_frame is the steady time per frame (prefill excluded), *_syncs_per_frame the host syncs per frame
(tools/syncs.py: what would make a GPU host wait), rtf = generation time / audio time for the whole run (prefill,
frames and decoding), first_audio_ms = time from the call to the first audio piece and first_audio_frames how many
frames that piece waited for (generate() hands over audio only at the end of a chunk)."""
from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

TEXT = "The quick brown fox jumps over the lazy dog, and then it runs back into the quiet forest."
FRAME_S = 0.08


def build(host_overhead: bool, device: str):
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


def engine(model, processor, device: str, **settings):
    from tts.config import Settings
    from tts.engines.csm import CsmEngine

    return CsmEngine(Settings(device=device, **settings), model=model, processor=processor)


class Sync:
    def __init__(self, device: str):
        import torch

        self.cuda = device.startswith("cuda")
        self.torch = torch

    def __call__(self) -> float:
        if self.cuda:
            self.torch.cuda.synchronize()
        return time.perf_counter()


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


def measure_generate(eng, inputs, frames: int, runs: int, now) -> dict:
    from tools.syncs import count_syncs

    results = []
    for i in range(runs):
        clock = FrameClock()
        start = now()
        wave = eng.generate(inputs, frames, seed=i, temperature=0.9, top_k=50, streamer=clock)
        done = now()
        assert len(clock.times) == frames, len(clock.times)
        results.append({"ms_per_frame": (clock.times[-1] - clock.times[0]) / (frames - 1) * 1e3,
                        "rtf": (done - start) / (len(wave) / eng.sample_rate), "first_audio_ms": (done - start) * 1e3})
    with count_syncs() as syncs:
        eng.generate(inputs, 4, seed=0, temperature=0.9, top_k=50)
    with count_syncs() as base:
        eng.generate(inputs, 2, seed=0, temperature=0.9, top_k=50)
    out = _median(results)
    out["syncs_per_frame"] = (syncs.total - base.total) / 2
    out["first_audio_frames"] = frames
    return out


def measure_loop(eng, inputs, frames: int, runs: int, now) -> dict:
    from tools.syncs import count_syncs

    loop, results = eng.loop, []
    for i in range(runs):
        start = now()
        first = None
        samples = 0
        for piece in eng.stream(inputs, frames, seed=i, temperature=0.9, top_k=50):
            if first is None:
                first = now()
            samples += len(piece.samples)
        done = now()
        # The steady frame step alone: prefill, then frames steps with nothing read in between.
        loop.prefill(0, eng.embed(inputs), i, 0.9, 50)
        loop.step()
        t = now()
        for _ in range(frames - 1):
            loop.step()
        per_frame = (now() - t) / (frames - 1)
        loop.release(0)
        results.append({"ms_per_frame": per_frame * 1e3, "rtf": (done - start) / (samples / eng.sample_rate),
                        "first_audio_ms": (first - start) * 1e3})
    import torch

    loop.prefill(0, eng.embed(inputs), 0, 0.9, 50)
    loop.step()
    with count_syncs() as syncs, torch.inference_mode():
        for _ in range(4):
            loop.step_fn(loop.slots)  # the step's own code, eagerly: the counter cannot run inside a compiled graph
    loop.release(0)
    out = _median(results)
    out["syncs_per_frame"] = syncs.total / 4
    from tts.engines.csm import FIRST_PIECE_FRAMES

    out["first_audio_frames"] = FIRST_PIECE_FRAMES
    return out


def _median(results: list[dict]) -> dict:
    return {k: round(statistics.median(r[k] for r in results), 3) for k in results[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=None, help="frames per run (12.5 a second; default 25, "
                                                                  "or 125 on CUDA)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--compile", action="store_true",
                        help="also measure the loop compiled with inductor (on by default with --host-overhead)")
    parser.add_argument("--host-overhead", action="store_true",
                        help="tiny widths, csm-1b's layer counts: the per-frame host cost of each path")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("tts").setLevel(logging.WARNING)

    import torch

    from tts.engines.csm import resolve_device

    device = resolve_device(args.device)
    cuda = device.startswith("cuda")
    frames = args.frames or (125 if cuda else 25)
    now = Sync(device)
    t = time.perf_counter()
    model, processor = build(args.host_overhead, device)
    build_s = time.perf_counter() - t

    report: dict = {
        "model": "tiny widths, csm-1b layers (16 backbone, 4 depth, 32 codebooks)" if args.host_overhead
        else "CsmConfig() full size, random weights",
        "device": torch.cuda.get_device_name() if cuda else f"cpu ({os.cpu_count()} cores)",
        "frames": frames, "build_s": round(build_s, 1),
    }
    gen = engine(model, processor, device, csm_loop="generate")
    inputs = gen.prompt([], 0, TEXT)
    report["dtype"] = str(gen.model.dtype).replace("torch.", "")
    report["prompt_tokens"] = int(inputs["input_ids"].shape[1])
    results = {"generate": measure_generate(gen, inputs, frames, args.runs, now)}
    del gen
    variants = [("loop", {"csm_cuda_graphs": False})]
    if cuda:
        variants.append(("loop_graphs", {"csm_cuda_graphs": True}))
    if args.compile or args.host_overhead:
        variants.append(("loop_compiled", {"csm_compile": True, "csm_cuda_graphs": cuda}))
    for name, settings in variants:
        t = time.perf_counter()
        eng = engine(model, processor, device, csm_loop="loop", **settings)
        report[f"{name}_start_s"] = round(time.perf_counter() - t, 1)
        results[name] = measure_loop(eng, inputs, frames, args.runs, now)
        del eng
    for name, r in results.items():
        for key, value in r.items():
            report[f"{name}_{key}"] = value
    report["first_audio_frames"] = results["loop"]["first_audio_frames"]
    report["first_audio_ms"] = results["loop_graphs" if cuda else "loop"]["first_audio_ms"]
    report["loop_vs_generate"] = round(results["loop"]["ms_per_frame"] / results["generate"]["ms_per_frame"], 3)
    if "loop_compiled" in results:
        report["loop_compiled_vs_generate"] = round(
            results["loop_compiled"]["ms_per_frame"] / results["generate"]["ms_per_frame"], 3)
    report["torch"] = torch.__version__
    print(json.dumps(report))


if __name__ == "__main__":
    main()
