"""What tests share: decoding outputs, settings for an in-process service, and the loopback harness."""
from __future__ import annotations

import base64
import contextlib
import io
import threading
import time

import numpy as np
import soundfile as sf

from tools.harness import ROOT, QuietHandler, files_handler, free_port, serve, wait_for_port, worker_env
from tts.config import Settings

__all__ = ["ROOT", "QuietHandler", "app_server", "decode", "files_handler", "free_port", "joined", "make_settings",
           "rms_db", "serve", "wait_for_port", "worker_env"]


def make_settings(**overrides) -> Settings:
    """Settings for a service built in a test: nothing from the environment, no cache cap, no directories."""
    return Settings(**{"cache_dir": "/nonexistent", "cache_max_bytes": 0, "voices_dir": "/nonexistent",
                       "lexicons_dir": "/nonexistent",
                       "device": "cpu", **overrides})


def decode(result: dict) -> tuple[np.ndarray, int]:
    """The output's audio as float samples and the rate the file itself declares."""
    data = base64.b64decode(result["audio_base64"])
    assert len(data) == result["size_bytes"]
    if result["format"] == "pcm":
        return np.frombuffer(data, "<i2").astype(np.float32) / 32768, result["sample_rate"]
    samples, rate = sf.read(io.BytesIO(data), dtype="float32")
    return samples, rate


def rms_db(samples: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean(np.square(samples, dtype=np.float64))) + 1e-12)


def joined(pieces) -> np.ndarray:
    """An engine's pieces (tts.engines.Piece) end to end, as one array."""
    return np.concatenate([np.zeros(0, np.float32), *(p.samples for p in pieces)])


@contextlib.contextmanager
def app_server(backend):
    """The HTTP door's app (tts.doors.http) for `backend` under a real uvicorn on a free 127.0.0.1 port; yields it."""
    import uvicorn

    from tts.doors.app import create_app

    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(backend), host="127.0.0.1", port=port, log_level="warning"))
    srv.capture_signals = contextlib.nullcontext
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield port
    finally:
        srv.should_exit = True
        thread.join(10)


class Gated:
    """The engine, but each synthesize() holds its last piece until `gate` opens (or 30 s pass): a job stuck in
    a step. `waited`: whether each hold ended by the gate opening (True) or by the 30 s (False)."""

    def __init__(self, engine):
        self._engine = engine
        self.gate = threading.Event()
        self.gate.set()
        self.waited: list[bool] = []

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def synthesize(self, *args, **kwargs):
        pieces = list(self._engine.synthesize(*args, **kwargs))
        for i, piece in enumerate(pieces):
            if i == len(pieces) - 1:
                self.waited.append(self.gate.wait(30))
            yield piece
