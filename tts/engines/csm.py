"""Sesame CSM-1B through transformers: speakers 0-9, conversation context, voice cloning.

Loaded once at container start from MODEL_ID (a Hub id or a local directory; the Docker image bakes the
snapshot into a directory). bf16 on CUDA, float32 on CPU. Each chunk of text is one generation whose prompt is
[voice reference] + [conversation context, first chunk only | the previous chunk] + the text, so one voice
carries through a long answer.

Generation runs our own frame loop (csm_loop.py: static caches, sampling on the device, no host sync inside a
frame; on CUDA replayed as a CUDA graph) for up to CSM_BATCH requests at once (csm_batch.py: continuous
batching), and decodes audio as frames arrive (csm_decode.py): the first piece after 3 frames (240 ms of audio),
then one every 4. CSM_LOOP=generate selects transformers' generate() instead, the reference path (one request at
a time, one piece per chunk, after the whole chunk)."""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import threading
import time
from collections.abc import Iterator

import numpy as np

from tts.config import Settings
from tts.engines.base import Capabilities, Piece, VoiceInfo
from tts.engines.csm_batch import Batcher
from tts.engines.csm_loop import CudaGraphStep, FrameLoop
from tts.errors import PromptTooLong, WorkerPoisoned
from tts.request import NO_CONDITIONING, Conditioning, SynthesisRequest

log = logging.getLogger("tts.engine.csm")

FRAME_MS = 80                 # Mimi: 12.5 frames per second
EST_MS_PER_CHAR = 100         # generous frame budget: slow speech is ~10 characters a second
EST_EXTRA_MS = 1000
MIN_MS_PER_CHAR = 55          # fast speech (~18 characters a second): below this budget, words get cut


def resolve_device(choice: str) -> str:
    """DEVICE (auto, cpu, cuda, cuda:N, mps) -> the device to load on; auto is CUDA when one is visible."""
    import torch

    if choice in ("", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"DEVICE={choice} but no CUDA device is visible (torch {torch.__version__}, "
                           f"built for CUDA {torch.version.cuda}); check the GPU and driver, or set DEVICE=cpu")
    return choice


def _load_help(model_id: str, revision: str | None, token: str | None, error: Exception) -> str:
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    rev = f" (MODEL_REVISION={revision})" if revision else ""
    if os.path.isabs(model_id) and not os.path.exists(model_id):
        return (f"could not load the CSM model: MODEL_ID={model_id} does not exist. If this image was built "
                "without the hf_token secret, the snapshot was not baked: rebuild with --secret id=hf_token,... "
                "or set MODEL_ID=sesame/csm-1b, HF_HUB_OFFLINE=0 and HF_TOKEN so the worker downloads it at start.")
    where = ("it is a local directory: check it holds the whole snapshot (config.json, *.safetensors, "
             "tokenizer and processor files)" if os.path.isdir(model_id) else
             "sesame/csm-1b is gated: accept its license on the Hugging Face Hub with your account and set "
             f"HF_TOKEN to a read token of that account (HF_TOKEN is {'set' if token else 'not set'}); "
             "without internet access, set MODEL_ID to a local directory with the snapshot "
             "(the Docker image bakes one)")
    return f"could not load the CSM model MODEL_ID={model_id!r}{rev}: {first}. {where}."


def _fingerprint(directory: str) -> str:
    """A version for a local model directory: the Hub commit it was baked from (bake.json), else a hash of
    its config plus the names and sizes of its weight files."""
    try:
        with open(os.path.join(directory, "bake.json"), encoding="utf-8") as f:
            return json.load(f)["revision"]
    except (OSError, ValueError, KeyError):
        pass
    h = hashlib.sha256()
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if name == "config.json":
            with open(path, "rb") as f:
                h.update(f.read())
        elif name.endswith((".safetensors", ".bin")):
            h.update(f"{name}:{os.path.getsize(path)}".encode())
    return "local-" + h.hexdigest()[:16]


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


class CsmEngine:
    name = "csm"
    languages = ("en",)
    speakers = range(10)
    features = frozenset({"context", "cloning", "sampling"})
    default_voice = None
    default_temperature = 0.9
    default_top_k = 50
    max_chunk_chars = 220     # ~20 s of speech: a prompt with its previous chunk stays well inside 2048 positions
    max_chars_per_second = 1000 / MIN_MS_PER_CHAR * 1.4  # its frame budget allows 18/s; margin for fast talk
    pause_ms = 150

    def __init__(self, settings: Settings | None = None, model=None, processor=None) -> None:
        """Loads settings.model_id; benchmarks pass an in-memory `model` and `processor` instead."""
        import torch
        from transformers import AutoProcessor, CsmForConditionalGeneration
        from transformers.utils import logging as hf_logging

        settings = settings or Settings()
        hf_logging.disable_progress_bar()  # progress bars are noise in worker logs
        self._torch = torch
        self.model_id = settings.model_id if model is None else "in-memory"
        revision, token = settings.model_revision, settings.hf_token
        self.device = resolve_device(settings.device)
        dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        if model is None:
            try:
                processor = AutoProcessor.from_pretrained(self.model_id, revision=revision, token=token)
                model = CsmForConditionalGeneration.from_pretrained(self.model_id, revision=revision, token=token,
                                                                    dtype=dtype)
            except (OSError, ValueError) as e:
                raise RuntimeError(_load_help(self.model_id, revision, token, e)) from e
        self._capabilities: Capabilities | None = None
        self.processor = processor
        self.model = model.to(device=self.device, dtype=dtype).eval().requires_grad_(False)
        config = self.model.config
        self.sample_rate = int(self.processor.feature_extractor.sampling_rate)
        self.max_positions = int(config.max_position_embeddings)
        self.eos = int(config.codebook_eos_token_id)
        self.model_version = revision or getattr(config, "_commit_hash", None) or (
            _fingerprint(self.model_id) if os.path.isdir(self.model_id) else "unknown")
        self.path = settings.csm_loop
        self.variant = "loop1" if self.path == "loop" else "generate"  # they sample differently: not one cache entry
        self.cuda_graphs = self.path == "loop" and settings.csm_cuda_graphs and self.device.startswith("cuda")
        self.compiled = settings.csm_compile and (self.path == "loop" or self.device.startswith("cuda"))
        self.loop: FrameLoop | None = None
        self.batcher: Batcher | None = None
        self._generate_lock = threading.Lock()
        slots = settings.csm_batch or (8 if self.device.startswith("cuda") else 4)
        self.max_concurrency = slots if self.path == "loop" else 1
        if self.path == "loop":
            self.loop = FrameLoop(self.model, slots=slots)
            step = self.loop.step_fn
            if self.compiled:
                step = torch.compile(step, fullgraph=True, dynamic=False)
            if self.cuda_graphs:
                step = CudaGraphStep(step)
            self.loop.run = step
        elif self.compiled:
            # A static KV cache makes transformers compile the forward passes (backbone and depth decoder).
            self.model.generation_config.cache_implementation = "static"
            self.model.depth_decoder.generation_config.cache_implementation = "static"
        elif settings.csm_compile:
            log.info("CSM_COMPILE=1 ignored for generate() on %s: its compilation is for CUDA", self.device)
        self._warm_up()

    def _warm_up(self) -> None:
        t = time.perf_counter()
        if self.loop is not None:
            from tts.engines.csm_batch import buckets

            rows = buckets(self.loop.slots)
            if self.cuda_graphs:
                for n in rows:  # while no slot is active: the warm-up steps of a capture change nothing
                    self.loop.run.capture(n)
            capture_s = time.perf_counter() - t
            self.batcher = Batcher(self, self.loop)
            pieces = list(self.stream(self.prompt([], 0, "Warm up."), frames=8, seed=0, temperature=0.9, top_k=50))
            log.info("csm warm-up: frame loop on %s, %d slots, in %.1f s (CUDA graphs %s for rows %s, compiled %s; "
                     "capture %.1f s), %d pieces", self.device, self.loop.slots, time.perf_counter() - t,
                     self.cuda_graphs, rows, self.compiled, capture_s, len(pieces))
            return
        runs = 3 if self.compiled else 1  # compiled graphs settle after a couple of calls
        for _ in range(runs):
            self.generate(self.prompt([], 0, "Warm up."), frames=4, seed=0, temperature=0.9, top_k=50)
        log.info("csm warm-up: %d generate() call(s) in %.1f s (compiled=%s)", runs, time.perf_counter() - t,
                 self.compiled)

    def voices(self) -> list[VoiceInfo]:
        return []  # CSM's voices are speakers 0-9 and stored (cloned) voices, which the service lists

    def capabilities(self) -> Capabilities:
        if self._capabilities is None:
            self._capabilities = Capabilities.of(self)
        return self._capabilities

    # -- synthesis ---------------------------------------------------------------------------
    def synthesize(self, text: str, request: SynthesisRequest, conditioning: Conditioning = NO_CONDITIONING,
                   previous: tuple[str, np.ndarray] | None = None,
                   deadline: float | None = None) -> Iterator[np.ndarray]:
        turns = [conditioning.reference] if conditioning.reference is not None else []
        if previous is None:
            turns += conditioning.context
        prompt_turns = [(t.text, t.speaker, t.audio.samples) for t in turns]
        if previous is not None:
            prompt_turns.append((previous[0], request.speaker, previous[1]))
        inputs = self.prompt(prompt_turns, request.speaker, text)
        frames = self._frame_budget(text, request.max_audio_length_ms, int(inputs["input_ids"].shape[1]))
        if self.loop is None:
            yield Piece(self.generate(inputs, frames, request.seed, request.temperature, request.top_k,
                                      deadline=deadline))
            return
        yield from self.stream(inputs, frames, request.seed, request.temperature, request.top_k, deadline)

    def stream(self, inputs, frames: int, seed: int, temperature: float, top_k: int,
               deadline: float | None = None) -> Iterator[Piece]:
        """Up to `frames` frames through the frame loop, batched with whatever else is running, as audio pieces
        while they are generated; the last piece ends the segment. Stops early at the end-of-audio frame."""
        yield from self.batcher.generate(inputs, frames, seed, temperature, top_k, deadline)

    def embed(self, inputs):
        """The prompt's input embeddings: text tokens, and context audio encoded by the codec."""
        inputs = inputs.to(self.device)
        values = inputs.get("input_values")
        with self._torch.inference_mode():
            return self.model._merge_input_ids_with_input_values(
                inputs["input_ids"], None if values is None else values.to(self.model.dtype),
                inputs.get("input_values_cutoffs"))["inputs_embeds"]

    def _poisoned(self, e: Exception, frames: int, inputs) -> WorkerPoisoned:
        if self.device.startswith("cuda"):
            self._torch.cuda.empty_cache()
        return WorkerPoisoned(f"CUDA out of memory generating up to {frames * FRAME_MS / 1000:.0f} s of audio from a "
                              f"{inputs['input_ids'].shape[1]}-position prompt; the worker restarts. Use shorter "
                              "context or reference audio, or a GPU with more memory")

    def prompt(self, turns: list[tuple[str, int, np.ndarray]], speaker: int, text: str):
        """The chat-template prompt: each (text, speaker, 24 kHz audio) turn, then the text to speak."""
        conversation = [{"role": str(t_speaker), "content": [{"type": "text", "text": t_text},
                                                             {"type": "audio", "audio": samples}]}
                        for t_text, t_speaker, samples in turns]
        conversation.append({"role": str(speaker), "content": [{"type": "text", "text": text}]})
        return self.processor.apply_chat_template(conversation, tokenize=True, return_dict=True)

    def _frame_budget(self, text: str, max_audio_length_ms: int | None, prompt: int) -> int:
        wanted = math.ceil((EST_EXTRA_MS + EST_MS_PER_CHAR * len(text)) / FRAME_MS)
        if max_audio_length_ms is not None:
            wanted = min(wanted, math.ceil(max_audio_length_ms / FRAME_MS))
        needed = min(wanted, math.ceil(MIN_MS_PER_CHAR * len(text) / FRAME_MS))
        room = self.max_positions - prompt
        if room < needed:
            raise PromptTooLong(prompt, self.max_positions, max(room, 0) * FRAME_MS / 1000, needed * FRAME_MS / 1000)
        return min(wanted, room)

    def generate(self, inputs, frames: int, seed: int, temperature: float, top_k: int,
                 streamer=None, deadline: float | None = None) -> np.ndarray:
        """transformers' generate() (the reference path): up to `frames` frames of audio for the prompt, all at
        once; empty if `deadline` (time.monotonic()) passes first."""
        with self._generate_lock:  # generate() seeds the global RNG and is not safe on two threads at once
            return self._generate(inputs, frames, seed, temperature, top_k, streamer, deadline)

    def _generate(self, inputs, frames, seed, temperature, top_k, streamer, deadline) -> np.ndarray:
        torch = self._torch
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
        except torch.OutOfMemoryError as e:
            raise self._poisoned(e, frames, inputs) from e
        return audio[0].to(torch.float32).cpu().numpy()
