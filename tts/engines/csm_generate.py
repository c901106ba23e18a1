"""CSM's reference path (CSM_LOOP=generate): transformers' own generate(), one request at a time, each chunk's audio
in one piece once the whole chunk is made. The frame loop (csm_batch.py's LoopPath) is checked against it."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import numpy as np
import torch

from tts.engines.base import Piece
from tts.errors import poisoning

log = logging.getLogger("tts.engine.csm")


class _OutOfTime(Exception):
    pass


class _Deadline:
    """A generate() streamer that ends generation once `deadline` passes: transformers' CSM generate ignores
    max_time and custom stopping criteria, but calls its streamer after every frame."""

    def __init__(self, deadline: float, inner=None):
        self.deadline = deadline
        self.inner = inner

    def put(self, value) -> None:
        if self.inner is not None:
            self.inner.put(value)
        if time.monotonic() > self.deadline:
            raise _OutOfTime

    def end(self) -> None:
        if self.inner is not None:
            self.inner.end()


class GeneratePath:
    variant = "generate"     # part of the cache key: it samples differently from the frame loop
    max_concurrency = 1
    busy = 0
    loop = batcher = None
    cuda_graphs = False

    def __init__(self, model, thread, device: str, compiled: bool):
        """`model` on `device`; `thread`: the engine's ModelThread, where every call runs."""
        self.model, self.thread, self.device = model, thread, device
        self.compiled = compiled and device.startswith("cuda")
        if compiled and not self.compiled:
            log.info("CSM_COMPILE=1 ignored for generate() on %s: its compilation is for CUDA", device)
        if self.compiled:
            # A static KV cache makes transformers compile the forward passes (backbone and depth decoder).
            model.generation_config.cache_implementation = "static"
            model.depth_decoder.generation_config.cache_implementation = "static"

    def warm_up(self, prompt) -> str:
        runs = 3 if self.compiled else 1  # compiled graphs settle after a couple of calls
        for _ in range(runs):
            self.generate(prompt, frames=4, seed=0, temperature=0.9, top_k=50)
        return f"{runs} generate() call(s), compiled {self.compiled}"

    def pieces(self, inputs, frames: int, seed: int, temperature: float, top_k: int,
               deadline: float | None = None) -> Iterator[Piece]:
        yield Piece(self.generate(inputs, frames, seed, temperature, top_k, deadline=deadline))

    def generate(self, inputs, frames: int, seed: int, temperature: float, top_k: int, streamer=None,
                 deadline: float | None = None) -> np.ndarray:
        """Up to `frames` frames of audio for the prompt, all at once; empty if `deadline` (time.monotonic())
        passes first. On the model thread, one call at a time: generate() seeds the global RNG."""
        return self.thread.call(self.run, inputs, frames, seed, temperature, top_k, streamer, deadline)

    def run(self, inputs, frames, seed, temperature, top_k, streamer=None, deadline=None) -> np.ndarray:
        """generate() itself, on the calling thread (the model thread)."""
        torch.manual_seed(seed)
        inputs = inputs.to(self.device)
        if "input_values" in inputs:
            inputs["input_values"] = inputs["input_values"].to(self.model.dtype)
        try:
            with torch.inference_mode():
                # Every sampling setting on every call: depth_decoder_* values persist in its generation
                # config from one call to the next otherwise.
                audio = self.model.generate(
                    **inputs, output_audio=True, max_new_tokens=frames,
                    streamer=streamer if deadline is None else _Deadline(deadline, streamer),
                    do_sample=True, temperature=temperature, top_k=top_k,
                    depth_decoder_do_sample=True, depth_decoder_temperature=temperature, depth_decoder_top_k=top_k)
        except _OutOfTime:
            return np.zeros(0, np.float32)  # the caller sees its deadline passed and ends the job
        except Exception as e:
            poisoned = poisoning(e)
            if poisoned is None:
                raise
            if isinstance(e, torch.OutOfMemoryError) and self.device.startswith("cuda"):
                torch.cuda.empty_cache()
            raise poisoned from e
        return audio[0].to(torch.float32).cpu().numpy()

    def close(self) -> None:
        pass
