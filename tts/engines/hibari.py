"""hibari: a small English voice (hibari-tts on PyPI) that runs on the CPU, no download needed.

The default voice ships in the wheel. Other voices are separate model files that hibari would
download on first use; a worker never downloads at request time, so they must be installed in
HIBARI_HOME beforehand (the Docker image bakes them) or the request gets a clear error."""
from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from tts.config import Settings, free_cores
from tts.engines.base import Capabilities, Piece, VoiceInfo
from tts.engines.onnx_graph import add_output
from tts.errors import UnspeakablePhonemes, VoiceNotInstalled
from tts.request import NO_CONDITIONING, Conditioning, SynthesisRequest

log = logging.getLogger("tts.engine.hibari")

# hibari names numbers up to 36 digits (decillions) and fails past that: read longer runs digit by digit.
_LONG_NUMBER = re.compile(r"\d{37,}")


def _readable(text: str) -> str:
    return _LONG_NUMBER.sub(lambda m: " ".join(m.group()), text)


# The duration predictor's rounded output (int64, one value per input id, pads included) that feeds the length
# regulator; one unit is 2 frames = 600 samples = 25 ms. onnxruntime returns only graph outputs, so it is added
# as one at load time (tts.timestamps maps it to words).
DURATIONS = "/Cast_32_output_0"


@dataclass(frozen=True)
class Timing:
    """What timed a piece: the sentence it speaks (after hibari's own split), the phonemes the model read (the
    sentence's, or one clause of a long one), the model's duration per id, and the G2P that read it."""
    sentence: str
    phonemes: str
    durations: np.ndarray
    g2p: object

    def __repr__(self) -> str:
        return f"Timing({self.sentence!r}, {len(self.durations)} ids)"


@dataclass(frozen=True, repr=False)
class TimedPiece(Piece):
    """A Piece with the model's timing, when the voice's graph exposes its durations."""
    timing: Timing | None = None


class HibariEngine:
    name = "hibari"
    model_id = "hibari-tts"
    variant = ""
    device = "cpu"
    speakers = range(1)      # one speaker per voice; voices are separate models
    languages = ("en",)
    max_chunk_chars = 400    # hibari splits sentences itself; this bounds one call's work
    max_chars_per_second = 25.0  # it speaks ~18 characters a second at speed 1
    pause_ms = 200
    features: frozenset[str] = frozenset({"phonemes"})
    scripts = ("LATIN",)
    default_temperature = None
    default_top_k = None

    def __init__(self, settings: Settings | None = None) -> None:
        import hibari
        from hibari.voices import ASSETS, DEFAULT, VOICES, cache_dir

        settings = settings or Settings()
        self._registry = VOICES
        self._assets = ASSETS
        self._home = settings.hibari_home or cache_dir()
        self.model_version = hibari.__version__
        self.sample_rate = hibari.SAMPLE_RATE
        self.default_voice = DEFAULT
        self._threads = settings.hibari_threads
        self._models: dict[str, object] = {}
        self._timed: set[str] = set()   # voices whose session outputs DURATIONS too
        self._g2p: dict[bool, object] = {}
        self._capabilities: tuple[object, Capabilities] | None = None
        self._loading = threading.Lock()
        # Jobs run on threads of their own and share the sessions: onnxruntime runs them in parallel.
        self.max_concurrency = free_cores()
        model = self._load(DEFAULT)   # loads the ONNX session; a first run loads the G2P tables
        _run(model, DEFAULT in self._timed, model.phonemize("Warm up.")[0], 1.0, np.random.default_rng(0))

    def _voice_file(self, name: str) -> str | None:
        """The voice's model file: in the wheel, or installed in HIBARI_HOME (never downloaded here)."""
        meta = self._registry[name]
        path = os.path.join(self._assets if meta.get("bundled") else self._home, meta["file"])
        return path if os.path.exists(path) else None

    def _load(self, name: str):
        model = self._models.get(name)
        if model is not None:
            return model
        with self._loading:  # two jobs asking for a new voice at once load it once
            return self._models.get(name) or self._load_new(name)

    def _load_new(self, name: str):
        from hibari import Hibari

        path = self._voice_file(name)
        if path is None:
            raise VoiceNotInstalled(name, [v.name for v in self.voices() if v.installed])
        british = bool(self._registry[name].get("british"))
        g2p = self._g2p.get(british)
        timed = _with_durations(path)
        try:  # onnxruntime takes the model's bytes as well as a path: one session, durations included
            model = Hibari(voice=name, model=timed, threads=self._threads, g2p=g2p) if timed else None
        except Exception as e:  # noqa: BLE001 - any failure leaves the wheel's graph and timing by alignment
            log.warning("hibari voice %s: cannot expose %s (%s)", name, DURATIONS, e)
            model = None
        if model is None:
            model = Hibari(voice=name, model=path, threads=self._threads, g2p=g2p)
        else:
            self._timed.add(name)
        self._g2p[british] = model.g2p  # voices of one accent share the G2P tables
        self._models[name] = model
        log.info("loaded hibari voice %s from %s", name, path)
        return model

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

    def close(self) -> None:
        pass  # onnxruntime's sessions need no stopping; jobs that run on them end with their job threads

    def capabilities(self) -> Capabilities:
        # Installing a voice into HIBARI_HOME changes the directory's mtime: one stat instead of one per voice.
        try:
            home = os.stat(self._home).st_mtime_ns
        except OSError:
            home = None
        stamp = (home, len(self._models))
        if self._capabilities is None or self._capabilities[0] != stamp:
            self._capabilities = (stamp, Capabilities.of(self))
        return self._capabilities[1]

    def synthesize(self, text: str, request: SynthesisRequest, conditioning: Conditioning = NO_CONDITIONING,
                   previous=None, deadline: float | None = None) -> Iterator[Piece]:
        model = self._load(request.voice)
        rng = np.random.default_rng(request.seed)
        for sentence in model.split_sentences(_readable(text)):
            for phonemes in model.phonemize(sentence):  # one piece per sentence (or clause of a long one)
                yield _run(model, request.voice in self._timed, phonemes, request.speed, rng, sentence)

    def synthesize_phonemes(self, ipa: str, request: SynthesisRequest) -> Iterator[Piece]:
        model = self._load(request.voice)
        phonemes = ipa_to_misaki(ipa)
        missing = sorted({c for c in phonemes if c not in model.vocab and not c.isspace()})
        if missing:
            raise UnspeakablePhonemes(ipa, " ".join(missing))
        yield _run(model, request.voice in self._timed, phonemes, request.speed, np.random.default_rng(request.seed))


def _with_durations(path: str) -> bytes | None:
    """The model file's graph with DURATIONS as one more output; None when the file has no such tensor. The 6
    spectral outputs and so the audio stay bit-identical (tests/test_timestamps.py)."""
    with open(path, "rb") as f:
        raw = f.read()
    if DURATIONS.encode() not in raw:
        log.warning("hibari model %s has no %s: word timestamps will come from alignment", path, DURATIONS)
        return None
    return add_output(raw, DURATIONS)


def _run(model, timed: bool, phonemes: str, speed: float, rng, sentence: str | None = None) -> Piece:
    """Hibari.from_ids, which unpacks exactly 6 outputs, for a session that may have the durations output too;
    a TimedPiece when it has and the sentence is known (phonemes given directly have no words to time)."""
    from hibari import dsp

    ids = model.ids(phonemes)
    if len(ids) < 3:
        return Piece(np.zeros(0, np.float32))
    out = model.sess.run(None, {"ids": np.asarray([ids], np.int64), "speed": np.asarray([speed], np.float32)})
    samples = dsp.synth(*(o[0] for o in out[:6]), rng)
    if not timed or sentence is None:
        return Piece(samples)
    return TimedPiece(samples, timing=Timing(sentence, phonemes, out[6].reshape(-1), model.g2p))


# IPA -> the model's alphabet (misaki's, as Kokoro's): diphthongs and affricates are one letter each, English r is
# the approximant, g is IPA's g. What is left must be in the model's vocabulary.
_IPA_MULTI = (("t͡ʃ", "ʧ"), ("d͡ʒ", "ʤ"), ("tʃ", "ʧ"), ("dʒ", "ʤ"), ("eɪ", "A"), ("aɪ", "I"), ("oʊ", "O"),
              ("əʊ", "Q"), ("aʊ", "W"), ("ɔɪ", "Y"), ("ɝ", "ɜɹ"), ("ɫ", "l"), ("ɐ̯", ""), ("ʊ̯", "ʊ"))
_IPA_ONE = str.maketrans({"r": "ɹ", "g": "ɡ", "'": "ˈ", ",": "ˌ", ".": "", "͡": ""})


def ipa_to_misaki(ipa: str) -> str:
    for written, letter in _IPA_MULTI:
        ipa = ipa.replace(written, letter)
    return ipa.translate(_IPA_ONE)
