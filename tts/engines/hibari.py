"""hibari: a small English voice (hibari-tts on PyPI) that runs on the CPU, no download needed.

The default voice ships in the wheel. Other voices are separate model files that hibari would
download on first use; a worker never downloads at request time, so they must be installed in
HIBARI_HOME beforehand (the Docker image bakes them) or the request gets a clear error."""
from __future__ import annotations

import logging
import os
from typing import Iterator

import numpy as np

from tts.engines.base import VoiceInfo
from tts.errors import InputError

log = logging.getLogger("tts.engine.hibari")


def _threads() -> int:
    raw = os.environ.get("HIBARI_THREADS", "").strip()
    # One thread by default: a second one gains ~6 % here, and the encoder thread uses the other core.
    return max(1, int(raw)) if raw.isdigit() else 1


class HibariEngine:
    name = "hibari"
    model_id = "hibari-tts"
    device = "cpu"
    speakers = range(1)      # one speaker per voice; voices are separate models
    languages = ("en",)
    max_chunk_chars = 400    # hibari splits sentences itself; this bounds one call's work
    pause_ms = 200
    features: frozenset[str] = frozenset()

    def __init__(self) -> None:
        import hibari
        from hibari.voices import DEFAULT, VOICES

        self._registry = VOICES
        self.model_version = hibari.__version__
        self.sample_rate = hibari.SAMPLE_RATE
        self.default_voice = DEFAULT
        self._threads = _threads()
        self._models: dict[str, object] = {}
        self._g2p: dict[bool, object] = {}
        self._load(DEFAULT).__call__("Warm up.", seed=0)  # loads the G2P tables and the ONNX session

    def _voice_file(self, name: str) -> str | None:
        from hibari.voices import voice_path

        try:
            return voice_path(name, download_missing=False)
        except FileNotFoundError:
            return None

    def _load(self, name: str):
        model = self._models.get(name)
        if model is not None:
            return model
        from hibari import Hibari

        path = self._voice_file(name)
        if path is None:
            raise InputError("voice", f"{name!r} is not installed in this worker (voices are never downloaded "
                                      f"at request time); installed: {', '.join(self._installed())}")
        british = bool(self._registry[name].get("british"))
        model = Hibari(voice=name, model=path, threads=self._threads, g2p=self._g2p.get(british))
        self._g2p[british] = model.g2p  # voices of one accent share the G2P tables
        self._models[name] = model
        log.info("loaded hibari voice %s from %s", name, path)
        return model

    def _installed(self) -> list[str]:
        return [v.name for v in self.voices() if v.installed]

    def voices(self) -> list[VoiceInfo]:
        return [
            VoiceInfo(
                name=name,
                installed=name in self._models or self._voice_file(name) is not None,
                language=meta["language"],
                description=f"{meta['accent']} English, {meta['gender']} (distilled from Kokoro {meta['kokoro']})",
            )
            for name, meta in self._registry.items()
        ]

    def synthesize(self, text: str, request, previous=None) -> Iterator[np.ndarray]:
        model = self._load(request.voice)
        rng = np.random.default_rng(request.seed)
        for phonemes in model.phonemize(text):  # one piece per sentence
            yield model.from_ids(model.ids(phonemes), request.speed, rng)
