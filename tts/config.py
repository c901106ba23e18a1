"""Every setting the worker has, read from the environment once at container start and passed down.

Nothing else reads os.environ after start. A malformed value raises ValueError naming the variable, which
stops the worker with that one line."""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from tts.upload import Bucket

VOLUME = "/runpod-volume"
_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def on_volume(name: str, local: str, volume: str = VOLUME) -> str:
    """<volume>/<name> when a RunPod network volume is mounted and writable (shared by every worker, kept
    across cold starts), else `local`."""
    if os.path.isdir(volume) and os.access(volume, os.W_OK):
        return os.path.join(volume, name)
    return local


MODEL_CACHE = VOLUME + "/huggingface-cache/hub"  # RunPod's cached models: the endpoint's "Model" setting
_HUB_ID = re.compile(r"[\w.-]+/[\w.-]+")


def cached_model(model_id: str, revision: str | None = None, cache: str | None = None) -> tuple[str, str | None]:
    """(MODEL_ID, MODEL_REVISION) -> the snapshot directory that RunPod's model cache holds for that Hub id, with
    its commit as the revision; else the two unchanged (a local directory, or a model to download).

    An endpoint whose Model setting names the repo starts its workers on hosts that already hold it, under
    <cache>/models--<org>--<name>/snapshots/<commit>/ in the Hub's cache layout: loading it from there needs no
    download, no billed start-up time and no token. A revision that is not in the cache is downloaded instead."""
    cache = cache or MODEL_CACHE
    if not _HUB_ID.fullmatch(model_id) or os.path.exists(model_id):
        return model_id, revision
    for name in (model_id, model_id.lower()):
        repo = os.path.join(cache, "models--" + name.replace("/", "--"))
        snapshots = os.path.join(repo, "snapshots")
        try:
            with open(os.path.join(repo, "refs", revision or "main"), encoding="ascii") as f:
                commits = [f.read().strip()]
        except (OSError, ValueError):
            commits = [revision] if revision else sorted(
                os.listdir(snapshots) if os.path.isdir(snapshots) else [],
                key=lambda c: os.path.getmtime(os.path.join(snapshots, c)), reverse=True)
        for commit in commits:
            path = os.path.join(snapshots, commit)
            if os.path.isfile(os.path.join(path, "config.json")) and any(
                    f.endswith(".safetensors") for f in os.listdir(path)):
                return path, commit
    return model_id, revision


def free_cores() -> int:
    """CPU cores this process may use: its affinity, capped by a cgroup CPU quota (containers)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    try:
        with open("/sys/fs/cgroup/cpu.max", encoding="ascii") as f:
            quota, period = f.read().split()
        if quota != "max":
            cores = min(cores, max(1, int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    return max(1, cores)


def _user_dir(env: Mapping[str, str], xdg_var: str, fallback: str, *parts: str) -> str:
    base = env.get(xdg_var) or os.path.join(os.path.expanduser("~"), fallback)
    return os.path.join(base, *parts)


@dataclass(frozen=True)
class Settings:
    # The worker
    engine: str = "hibari"
    max_text_chars: int = 5000
    max_response_bytes: int = 15_000_000
    max_job_seconds: int = 300        # a job's time budget; 0 = none (RunPod's own executionTimeout is 600 s)
    cache_dir: str = ""
    cache_max_bytes: int | None = None  # None: half the volume's free space at start, at most 10 GiB (cache/store.py)
    voices_dir: str = ""              # the stored-voice library (engines that clone voices)
    lexicons_dir: str = ""            # stored lexicons (named pronunciations, every engine)
    output_dir: str | None = None     # also write each result's audio here (local development)
    # Engines
    model_id: str = "sesame/csm-1b"   # csm: a Hub id or a local snapshot directory
    model_revision: str | None = None
    hf_token: str | None = field(default=None, repr=False)
    device: str = "auto"              # auto | cpu | cuda | cuda:N | mps
    csm_loop: str = "loop"            # csm: "loop" (our frame loop) or "generate" (transformers', the reference)
    csm_cuda_graphs: bool = True      # csm loop on CUDA: replay the frame step as a CUDA graph
    csm_compile: bool = False         # csm: compile the frame step (torch.compile); generate(): static cache, CUDA
    csm_batch: int | None = None      # csm: requests generated together (frame-loop slots); None: 8 on CUDA, 4 else
    csm_dtype: str = "auto"           # csm: auto (bf16 on GPUs that have it, else float32), bfloat16, float16, float32
    max_concurrency: int | None = None  # jobs a worker runs at once; None: the engine's capacity
    hibari_threads: int = 1           # a second thread gains ~6 % and the encoder thread wants the other core
    hibari_home: str = ""             # where extra hibari voices are installed ("" = hibari's default)
    # Doors
    worker_mode: str = "queue"        # queue: RunPod's job queue (handler); http: a server for load-balancing endpoints
    deployed: bool = False            # queue: RunPod hands jobs over RUNPOD_WEBHOOK_GET_JOB (else a local run or API)
    handler_mode: str = "dict"        # queue: dict (one output per job) or stream (a generator for /stream)
    host: str = "0.0.0.0"             # http: the address to listen on
    port: int = 8000                  # http: RunPod's PORT (the image sets 80)
    port_health: int | None = None    # http: RunPod's PORT_HEALTH, when /ping is served on a port of its own
    max_queue: int = 8                # http: requests waiting for the engine beyond the running one(s); more: 429
    max_request_bytes: int = 20_000_000  # http: the largest request body
    api_key: str | None = field(default=None, repr=False)  # http: a Bearer token every route but /ping needs
    openai_voices: tuple[tuple[str, str], ...] = ()  # http: OpenAI voice name -> a voice here, or a speaker number
    max_sessions: int = 64            # http: WS /ws/session connections open at once; more are closed with 1013
    session_idle_s: int = 60          # http: a session with no message and nothing to send for this long is closed
    session_buffer_ms: int = 5000     # http: a session's audio queued for a slow reader before generation pauses
    # Network
    allow_private_urls: bool = False  # audio_url / voice_file_url may name private or loopback hosts
    bucket: Bucket | None = None      # the endpoint's BUCKET_*: for output_mode "url" and oversize results

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        reader = _Reader(env)
        device = env.get("DEVICE", "auto").strip().lower() or "auto"
        if not _DEVICE.fullmatch(device):
            raise ValueError(f"DEVICE={device!r} is not a device; use auto, cpu, cuda or cuda:N")
        model_id, model_revision = cached_model(env.get("MODEL_ID", "").strip() or "sesame/csm-1b",
                                                env.get("MODEL_REVISION", "").strip() or None)
        return cls(
            engine=env.get("TTS_ENGINE", "hibari").strip().lower() or "hibari",
            max_text_chars=reader.int("MAX_TEXT_CHARS", 5000, 1),
            max_response_bytes=reader.int("MAX_RESPONSE_BYTES", 15_000_000, 1024),
            max_job_seconds=reader.int("MAX_JOB_SECONDS", 300, 0),
            cache_dir=env.get("CACHE_DIR") or on_volume(
                "tts-cache", _user_dir(env, "XDG_CACHE_HOME", ".cache", "runpod-tts-worker")),
            cache_max_bytes=reader.int("CACHE_MAX_BYTES", None, 0),
            voices_dir=env.get("VOICES_DIR") or on_volume(
                "tts-voices", _user_dir(env, "XDG_DATA_HOME", ".local/share", "runpod-tts-worker", "voices")),
            lexicons_dir=env.get("LEXICONS_DIR") or on_volume(
                "tts-lexicons", _user_dir(env, "XDG_DATA_HOME", ".local/share", "runpod-tts-worker", "lexicons")),
            output_dir=env.get("OUTPUT_DIR") or None,
            model_id=model_id,
            model_revision=model_revision,
            hf_token=env.get("HF_TOKEN", "").strip() or None,
            device=device,
            csm_loop=reader.choice("CSM_LOOP", "loop", ("loop", "generate")),
            csm_cuda_graphs=reader.bool("CSM_CUDA_GRAPHS", True),
            csm_compile=reader.bool("CSM_COMPILE", False),
            csm_batch=reader.int("CSM_BATCH", 0, 1, 64) or None,
            csm_dtype=reader.choice("CSM_DTYPE", "auto", ("auto", "bfloat16", "float16", "float32")),
            max_concurrency=reader.int("MAX_CONCURRENCY", 0, 1, 256) or None,
            hibari_threads=reader.int("HIBARI_THREADS", 1, 1),
            hibari_home=env.get("HIBARI_HOME") or _user_dir(env, "XDG_CACHE_HOME", ".cache", "hibari"),
            worker_mode=reader.choice("WORKER_MODE", "queue", ("queue", "http")),
            deployed=bool(env.get("RUNPOD_WEBHOOK_GET_JOB", "").strip()),
            handler_mode=reader.choice("HANDLER_MODE", "dict", ("dict", "stream")),
            host=env.get("HOST", "").strip() or "0.0.0.0",
            port=(port := reader.int("PORT", 8000, 1, 65535)),
            port_health=None if (health := reader.int("PORT_HEALTH", port, 1, 65535)) == port else health,
            max_queue=reader.int("MAX_QUEUE", 8, 0),
            max_request_bytes=reader.int("MAX_REQUEST_BYTES", 20_000_000, 1024),
            api_key=env.get("API_KEY", "").strip() or None,
            openai_voices=_pairs(env, "OPENAI_VOICES"),
            max_sessions=reader.int("MAX_SESSIONS", 64, 1, 100_000),
            session_idle_s=reader.int("SESSION_IDLE_S", 60, 1, 86_400),
            session_buffer_ms=reader.int("SESSION_BUFFER_MS", 5000, 100, 600_000),
            allow_private_urls=reader.bool("ALLOW_PRIVATE_URLS", False),
            bucket=_bucket(env),
        )


class _Reader:
    def __init__(self, env: Mapping[str, str]):
        self.env = env

    def int(self, name: str, default: int | None, minimum: int, maximum: int | None = None) -> int | None:
        raw = self.env.get(name, "").strip()
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            shown = "unset" if default is None else default
            raise ValueError(f"{name}={raw!r} is not a whole number (default {shown})") from None
        if value < minimum:
            raise ValueError(f"{name}={value} is below the minimum {minimum}")
        if maximum is not None and value > maximum:
            raise ValueError(f"{name}={value} is above the maximum {maximum}")
        return value

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.env.get(name, "").strip().lower() or default
        if value not in allowed:
            raise ValueError(f"{name}={value!r} is not one of {', '.join(allowed)}")
        return value

    def bool(self, name: str, default: bool) -> bool:
        raw = self.env.get(name)
        if raw is None:
            return default
        value = raw.strip().lower()
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise ValueError(f"{name}={raw!r} is not a boolean; use 1 or 0 (true/false, yes/no)")


def _pairs(env: Mapping[str, str], name: str) -> tuple[tuple[str, str], ...]:
    """NAME=a:b,c:d -> (("a", "b"), ("c", "d"))."""
    raw = env.get(name, "").strip()
    if not raw:
        return ()
    pairs = []
    for item in raw.split(","):
        key, sep, value = item.partition(":")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"{name}={raw!r}: each item is name:value, separated by commas (e.g. alloy:heart,echo:1)")
        pairs.append((key.strip(), value.strip()))
    return tuple(pairs)


def _bucket(env: Mapping[str, str]) -> Bucket | None:
    endpoint, access_id, secret = (env.get(k, "").strip() for k in
                                   ("BUCKET_ENDPOINT_URL", "BUCKET_ACCESS_KEY_ID", "BUCKET_SECRET_ACCESS_KEY"))
    if not (endpoint and access_id and secret):
        return None
    if not endpoint.startswith(("http://", "https://")):
        raise ValueError(f"BUCKET_ENDPOINT_URL={endpoint!r} is not an http(s) URL")
    return Bucket(endpoint, access_id, secret, name=env.get("BUCKET_NAME", "").strip() or "tts-audio",
                  prefix=env.get("BUCKET_PREFIX", "tts").strip().strip("/"))
