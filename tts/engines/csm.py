"""Sesame CSM-1B through transformers: speakers 0-9, conversation context, voice cloning.

Loaded once at container start from MODEL_ID (a Hub id or a local directory; the Docker image bakes the
snapshot into a directory). bf16 on GPUs that support it, else float32 (CSM_DTYPE overrides). Each chunk of text
is one generation whose prompt is [voice reference] + [conversation context, first chunk only | the previous
chunk] + the text, so one voice carries through a long answer.

Generation runs our own frame loop (csm_loop.py: static caches, sampling on the device, no host sync inside a
frame; on CUDA replayed as a CUDA graph) for up to CSM_BATCH requests at once (csm_batch.py: continuous
batching), and decodes audio as frames arrive (csm_decode.py): the first piece after 3 frames (240 ms of audio),
then one every 4. CSM_LOOP=generate selects transformers' generate() instead, the reference path (one request at
a time, one piece per chunk, after the whole chunk). All torch work runs on one thread (model_thread.py)."""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Iterator

import numpy as np

from tts.config import Settings
from tts.engines.base import Capabilities, Piece, VoiceInfo
from tts.engines.csm_batch import LoopPath
from tts.engines.csm_decode import StreamingDecoder
from tts.engines.csm_generate import GeneratePath
from tts.engines.model_thread import ModelThread
from tts.errors import PromptTooLong
from tts.request import NO_CONDITIONING, Conditioning, SynthesisRequest

log = logging.getLogger("tts.engine.csm")

FRAME_MS = 80                 # Mimi: 12.5 frames per second
EST_MS_PER_CHAR = 100         # generous frame budget: slow speech is ~10 characters a second
EST_EXTRA_MS = 1000
MIN_MS_PER_CHAR = 55          # fast speech (~18 characters a second): below this budget, words get cut


def resolve_device(choice: str, nvidia_smi: str = "nvidia-smi") -> str:
    """DEVICE (auto, cpu, cuda, cuda:N, mps) -> the device to load on. auto is CUDA when torch can use a GPU and
    the CPU on a machine with no NVIDIA GPU. A GPU that torch cannot use stops the worker (RuntimeError, one line
    from cuda_unusable) for cuda and auto alike: a driver older than torch's CUDA build would otherwise run CSM on
    the CPU of a billed GPU worker, many times slower than real time. Only DEVICE=cpu runs CSM on the CPU there."""
    import warnings

    import torch

    if choice not in ("", "auto") and not choice.startswith("cuda"):
        return choice
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns over several lines; cuda_unusable says it in one
        usable = torch.cuda.is_available()
    if usable:
        index = int(choice.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise RuntimeError(f"DEVICE={choice}, but this worker has {torch.cuda.device_count()} GPU(s) "
                               f"(cuda:0 to cuda:{torch.cuda.device_count() - 1}): set DEVICE=cuda")
        return "cuda" if choice in ("", "auto") else choice
    gpu = nvidia_gpu(nvidia_smi)
    if choice in ("", "auto") and gpu is None:
        return "cpu"
    raise RuntimeError(cuda_unusable(choice or "auto", gpu))


def nvidia_gpu(nvidia_smi: str = "nvidia-smi") -> str | None:
    """What nvidia-smi says of this machine's NVIDIA driver ("driver 535.183.01, which supports CUDA 12.2", or its
    error), or None where there is no NVIDIA GPU: the same test the runpod SDK uses to tell a GPU worker."""
    import re
    import subprocess

    try:
        done = subprocess.run([nvidia_smi], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    out = done.stdout + done.stderr
    driver, cuda = (re.search(rf"{name}:\s*([\d.]+)", out) for name in ("Driver Version", "CUDA Version"))
    if done.returncode == 0 and "NVIDIA-SMI" in out and driver:
        return f"driver {driver.group(1)}" + (f", which supports CUDA {cuda.group(1)}" if cuda else "")
    first = next((line.strip() for line in out.splitlines() if line.strip()), "")
    return f"nvidia-smi fails: {first}" if first else None


def cuda_unusable(choice: str, gpu: str | None) -> str:
    """One line for a worker that should run CSM on a GPU but cannot: torch's CUDA build, what the driver supports
    (torch's own error, nvidia-smi) and what to do."""
    import re
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.cuda.init()
            reason = "no CUDA device is visible"
        except (RuntimeError, AssertionError) as e:  # AssertionError: a torch built without CUDA
            reason = re.split(r"(?<=\.)\s", " ".join(str(e).split()), maxsplit=1)[0].rstrip(".") or type(e).__name__
    found = re.search(r"found version (\d+)", reason)
    if found:  # the CUDA driver API version, e.g. 12020 for 12.2
        version = int(found.group(1))
        reason += f", i.e. a driver for CUDA {version // 1000}.{version % 1000 // 10}"
    driver = f"nvidia-smi: {gpu}" if gpu is not None else "No nvidia-smi either: no NVIDIA driver in this container"
    build = torch.version.cuda
    what = f"torch {torch.__version__} ({f'a CUDA {build} build' if build else 'a CPU-only build'})"
    head = (f"DEVICE={choice} found an NVIDIA GPU, but {what} cannot use it" if choice == "auto"
            else f"DEVICE={choice}, but {what} cannot use a GPU here")
    fix = (f"run on hosts whose driver supports CUDA {build} or newer (the endpoint's CUDA version filter: allow "
           f"{build} and every newer version)" if build else "use torch's CUDA build (the GPU image)")
    return (f"{head}. torch: {reason}. {driver}. To fix: {fix}, or set DEVICE=cpu to run CSM on the CPU "
            "(many times slower)")


def graphs_possible(device: str) -> bool:
    """Whether the frame step can be captured as a CUDA graph on this device."""
    return device.startswith("cuda")


def choose_dtype(device: str, choice: str = "auto"):
    """CSM_DTYPE -> a torch dtype: auto is bfloat16 on a GPU that supports it (not T4 or V100: float32 there,
    whose range bf16 was chosen to keep), float32 elsewhere."""
    import torch

    if choice != "auto":
        return getattr(torch, choice)
    if device.startswith("cuda"):
        major, minor = torch.cuda.get_device_capability(device)
        if major >= 8:  # Ampere and later compute in bf16; older GPUs only emulate it, slowly
            return torch.bfloat16
        log.warning("%s (compute capability %d.%d) has no bfloat16: CSM runs in float32 (CSM_DTYPE=float16 is "
                    "faster and may overflow)", device, major, minor)
    return torch.float32


def place(model, device: str, dtype):
    """Move the model to `device` and `dtype`, keeping its rotary inverse frequencies in float32 as loading with
    dtype= does (cast to bf16 they drift by ~1 radian over 1,000 positions)."""
    import torch

    keep = {name: buf.detach().clone().float() for name, buf in model.named_buffers()
            if name.rsplit(".", 1)[-1] in ("inv_freq", "original_inv_freq")}
    model = model.to(device=device, dtype=dtype)
    with torch.no_grad():
        for name, value in keep.items():
            module_name, _, attr = name.rpartition(".")
            module = model.get_submodule(module_name)
            setattr(module, attr, value.to(device))
    return model


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


def _version(model_id: str, token: str | None) -> str:
    """The version of a model loaded without a revision: a local directory's fingerprint, else the Hub commit of
    the snapshot it was loaded from (the snapshot directory's name in the Hub cache)."""
    if os.path.isdir(model_id):
        return _fingerprint(model_id)
    try:
        from transformers.utils import cached_file
        path = cached_file(model_id, "config.json", token=token, local_files_only=True)
    except (OSError, ValueError):
        path = None
    if path and os.path.basename(os.path.dirname(os.path.dirname(path))) == "snapshots":
        return os.path.basename(os.path.dirname(path))
    return _fingerprint(os.path.dirname(path)) if path else "unknown"


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


class CsmEngine:
    name = "csm"
    languages = ("en",)
    speakers = range(10)
    features = frozenset({"context", "cloning", "sampling"})
    scripts = ("LATIN",)      # an English model: other scripts are refused (or transliterated) by the front end
    default_voice = None
    default_temperature = 0.9
    default_top_k = 50
    max_chunk_chars = 220     # ~20 s of speech: a prompt with its previous chunk stays well inside 2048 positions
    max_chars_per_second = 1000 / MIN_MS_PER_CHAR * 1.4  # its frame budget allows 18/s; margin for fast talk
    pause_ms = 150

    def __init__(self, settings: Settings | None = None, model=None, processor=None, factory=None) -> None:
        """Loads settings.model_id; benchmarks pass an in-memory `model` and `processor` instead, or a `factory()`
        returning both, called on the model thread (so even building it runs where the model runs). Loading,
        warm-up and every later step run on this engine's model thread."""
        settings = settings or Settings()
        self.device = resolve_device(settings.device)
        self.thread = ModelThread("csm-model", self.device)
        self.path: LoopPath | GeneratePath | None = None
        try:
            if factory is not None:
                model, processor = self.thread.call(factory)
            self.thread.call(self._load, settings, model, processor)
            self._warm_up()
        except BaseException:
            self.close()
            raise

    def _load(self, settings: Settings, model, processor) -> None:
        import torch
        from transformers import AutoProcessor, CsmForConditionalGeneration
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # progress bars are noise in worker logs
        self._torch = torch
        self.model_id = settings.model_id if model is None else "in-memory"
        revision, token = settings.model_revision, settings.hf_token
        dtype = choose_dtype(self.device, settings.csm_dtype)
        if model is None:
            try:
                processor = AutoProcessor.from_pretrained(self.model_id, revision=revision, token=token)
                model = CsmForConditionalGeneration.from_pretrained(self.model_id, revision=revision, token=token,
                                                                    dtype=dtype)
            except (OSError, ValueError) as e:
                raise RuntimeError(_load_help(self.model_id, revision, token, e)) from e
        self._capabilities: Capabilities | None = None
        self.processor = processor
        self.model = place(model, self.device, dtype).eval().requires_grad_(False)
        config = self.model.config
        self.sample_rate = int(self.processor.feature_extractor.sampling_rate)
        self.max_positions = int(config.max_position_embeddings)
        self.eos = int(config.codebook_eos_token_id)
        self.model_version = revision or getattr(config, "_commit_hash", None) or _version(self.model_id, token)
        slots = settings.csm_batch or (8 if self.device.startswith("cuda") else 4)
        if settings.csm_loop == "loop":
            self.path = LoopPath(self.model, self.thread, self.embed, self._new_decoder, self.device, slots,
                                 compiled=settings.csm_compile,
                                 cuda_graphs=settings.csm_cuda_graphs and graphs_possible(self.device))
        else:
            self.path = GeneratePath(self.model, self.thread, self.device, compiled=settings.csm_compile)
        self.variant = self.path.variant
        self.max_concurrency = self.path.max_concurrency

    def _warm_up(self) -> None:
        t = time.perf_counter()
        what = self.path.warm_up(self.prompt([], 0, "Warm up."))
        log.info("csm warm-up on %s in %.1f s: %s", self.device, time.perf_counter() - t, what)

    def close(self) -> None:
        """End every request and stop the model thread (the worker's shutdown; tests and benches)."""
        if self.path is not None:
            self.path.close()
        self.thread.close()

    # The generation path's parts, for benchmarks and tests.
    loop = property(lambda self: self.path.loop)
    batcher = property(lambda self: self.path.batcher)
    cuda_graphs = property(lambda self: self.path.cuda_graphs)
    compiled = property(lambda self: self.path.compiled)

    @property
    def busy(self) -> int:
        """Requests being generated now (the frame loop's slots in use)."""
        return self.path.busy

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
        yield from self.stream(inputs, frames, request.seed, request.temperature, request.top_k, deadline)

    def stream(self, inputs, frames: int, seed: int, temperature: float, top_k: int,
               deadline: float | None = None) -> Iterator[Piece]:
        """Up to `frames` frames of audio for the prompt as pieces (the frame loop: while they are generated,
        batched with whatever else runs; generate(): one piece at the end); the last piece ends the segment.
        Stops early at the end-of-audio frame."""
        return self.path.pieces(inputs, frames, seed, temperature, top_k, deadline)

    def _new_decoder(self) -> StreamingDecoder:
        return StreamingDecoder(self.model.codec_model)

    def embed(self, inputs):
        """The prompt's input embeddings: text tokens, and context audio encoded by the codec."""
        inputs = inputs.to(self.device)
        values = inputs.get("input_values")
        with self._torch.inference_mode():
            return self.model._merge_input_ids_with_input_values(
                inputs["input_ids"], None if values is None else values.to(self.model.dtype),
                inputs.get("input_values_cutoffs"))["inputs_embeds"]

    def prompt(self, turns: list[tuple[str, int, np.ndarray]], speaker: int, text: str):
        """The chat-template prompt: each (text, speaker, 24 kHz audio) turn, then the text to speak. Made on the
        model thread: the processor makes torch tensors, and a large copy on another thread would give that
        thread an OpenMP team of its own (see model_thread.py)."""
        conversation = [{"role": str(t_speaker), "content": [{"type": "text", "text": t_text},
                                                             {"type": "audio", "audio": samples}]}
                        for t_text, t_speaker, samples in turns]
        conversation.append({"role": str(speaker), "content": [{"type": "text", "text": text}]})
        return self.thread.call(self.processor.apply_chat_template, conversation, tokenize=True, return_dict=True)

    def _frame_budget(self, text: str, max_audio_length_ms: int | None, prompt: int) -> int:
        wanted = math.ceil((EST_EXTRA_MS + EST_MS_PER_CHAR * len(text)) / FRAME_MS)
        if max_audio_length_ms is not None:
            wanted = min(wanted, math.ceil(max_audio_length_ms / FRAME_MS))
        needed = min(wanted, math.ceil(MIN_MS_PER_CHAR * len(text) / FRAME_MS))
        room = self.max_positions - prompt
        if room < needed:
            raise PromptTooLong(prompt, self.max_positions, max(room, 0) * FRAME_MS / 1000, needed * FRAME_MS / 1000)
        return min(wanted, room)
