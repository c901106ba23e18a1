"""CSM engine benchmark on a full-size random-weight model (CsmConfig(): the compute of sesame/csm-1b).

    python -m bench.bench_csm                       # device auto, eager, 125 frames (10 s of audio)
    python -m bench.bench_csm --compile             # CUDA: static cache + torch.compile, warmed up first
    python -m bench.bench_csm --frames 12 --runs 1  # a CPU-sized run
    python -m bench.bench_csm --host-overhead       # tiny layers, csm-1b's 31 depth steps a frame: the
                                                    # per-frame cost that is not model compute

Random weights never emit the end frame, so every run generates exactly --frames frames. Prints JSON:
real-time factor (generation seconds / audio seconds), time to the first frame's codes, and time to
the first audio chunk the worker hands on (a whole chunk, decoded)."""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

TEXT = "The quick brown fox jumps over the lazy dog, and then it runs back into the quiet forest."


class FrameClock:
    """A generate() streamer that notes when each frame's codes arrive (the first put is the prompt)."""

    def __init__(self):
        self.start = time.perf_counter()
        self.times: list[float] = []
        self._prompt_seen = False

    def put(self, value):
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        self.times.append(time.perf_counter())

    def end(self):
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=125, help="frames per run (12.5 per second of audio)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--compile", action="store_true", help="CSM_COMPILE=1 (CUDA only)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--host-overhead", action="store_true",
                        help="tiny layers with 32 codebooks: measures generate()'s per-frame host overhead")
    args = parser.parse_args()

    import logging

    import torch
    from transformers import CsmConfig, CsmForConditionalGeneration

    from tools.tiny_csm import build_processor, tiny_config
    from tts.config import Settings
    from tts.engines.csm import FRAME_MS, CsmEngine, _device

    logging.basicConfig(level=logging.WARNING)
    device = _device(args.device)
    t = time.perf_counter()
    config = tiny_config(codebooks=32) if args.host_overhead else CsmConfig()
    config.codebook_eos_token_id = -1  # never matches: every run is exactly --frames frames
    with torch.device(device):
        model = CsmForConditionalGeneration(config)
    # Random heads also sample the special ids past the codec's codebook (2048-2050 in csm-1b), which a
    # trained model never emits: clamp them at decode time (no cost per generated frame).
    codec_decode = model.codec_model.decode
    top = config.codec_config.codebook_size - 1
    model.codec_model.decode = lambda codes, *a, **k: codec_decode(codes.clamp(max=top), *a, **k)
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    engine = CsmEngine(Settings(device=args.device, csm_compile=args.compile), model=model,
                       processor=build_processor(config.bos_token_id))
    warm_s = time.perf_counter() - t

    inputs = engine.prompt([], 0, TEXT)
    runs = []
    for i in range(args.runs):
        clock = FrameClock()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        clock.start = time.perf_counter()
        wave = engine.generate(inputs, args.frames, seed=i, temperature=0.9, top_k=50, streamer=clock)
        done = time.perf_counter()
        assert len(clock.times) == args.frames, len(clock.times)
        audio_s = len(wave) / engine.sample_rate
        steady = (clock.times[-1] - clock.times[0]) / max(1, len(clock.times) - 1)
        runs.append({"rtf": (done - clock.start) / audio_s, "first_frame_ms": (clock.times[0] - clock.start) * 1e3,
                     "first_chunk_ms": (done - clock.start) * 1e3, "ms_per_frame": steady * 1e3,
                     "audio_s": audio_s})
    best = {k: round(statistics.median(r[k] for r in runs), 3) for k in runs[0]}
    report = {
        "device": device if not device.startswith("cuda") else torch.cuda.get_device_name(),
        "dtype": str(engine.model.dtype).replace("torch.", ""),
        "compiled": engine.compiled,
        "model": "tiny layers, 32 codebooks (host overhead)" if args.host_overhead else "CsmConfig() full size",
        "params_b": round(sum(p.numel() for p in model.parameters()) / 1e9, 3),
        "frames": args.frames,
        "frame_ms": FRAME_MS,
        "prompt_tokens": int(inputs["input_ids"].shape[1]),
        "build_s": round(build_s, 1),
        "warm_up_s": round(warm_s, 1),
        "median": best,
        "runs": [{k: round(v, 3) for k, v in r.items()} for r in runs],
        "torch": torch.__version__,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
