"""The engine protocol every TTS backend implements, and the capabilities value requests are parsed against."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from tts.request import Conditioning, SynthesisRequest

# Optional request features an engine may honour.
FEATURES = ("context", "cloning", "sampling", "phonemes")


@dataclass(frozen=True)
class Piece:
    """Audio an engine yields: mono float32 in [-1, 1] at its sample rate. A segment (a sentence, a chunk) may come
    in several pieces as it is generated: pieces of one segment are joined end to end, and `ends_segment` marks
    its last one; segments are joined with the engine's pause between them."""
    samples: np.ndarray
    ends_segment: bool = True

    def __repr__(self) -> str:  # never print audio
        return f"Piece({len(self.samples)} samples, ends_segment={self.ends_segment})"


@dataclass(frozen=True)
class VoiceInfo:
    name: str
    installed: bool          # usable now without any download
    language: str
    description: str

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Capabilities:
    """What a loaded engine accepts: all `schema.parse` needs to know about it."""
    engine: str
    sample_rate: int
    speakers: range
    languages: tuple[str, ...]
    features: frozenset[str]
    default_voice: str | None = None
    voices: tuple[VoiceInfo, ...] = ()      # built-in voices, installed or not
    default_temperature: float | None = None
    default_top_k: int | None = None
    scripts: tuple[str, ...] = ("LATIN",)   # Unicode scripts whose letters it reads (tts.text.frontend)

    @classmethod
    def of(cls, engine: Engine) -> Capabilities:
        """Built from the engine's attributes and voices(); engines cache it in capabilities()."""
        sampling = "sampling" in engine.features
        return cls(engine.name, engine.sample_rate, engine.speakers, engine.languages, engine.features,
                   engine.default_voice, tuple(engine.voices()),
                   engine.default_temperature if sampling else None, engine.default_top_k if sampling else None,
                   engine.scripts)


@runtime_checkable
class Engine(Protocol):
    """A loaded model. The service parses requests against its capabilities, then calls synthesize."""

    name: str                 # registry name, e.g. "hibari"
    model_id: str             # what the output's `model` field says
    model_version: str        # part of the cache key: new weights never serve old audio
    variant: str              # part of the cache key too: how the engine generates (e.g. CSM's loop or generate())
    device: str               # "cpu", "cuda:0", ...
    sample_rate: int          # native rate of synthesize()'s output
    default_voice: str | None
    speakers: range           # allowed `speaker` values
    languages: tuple[str, ...]  # primary language subtags accepted, e.g. ("en",)
    scripts: tuple[str, ...]    # Unicode scripts whose letters it reads, e.g. ("LATIN",)
    max_chunk_chars: int      # text is cut into chunks of at most this many characters
    max_chars_per_second: float  # faster than this it never speaks (at speed 1): bounds a result's size
    pause_ms: int             # silence between the pieces synthesize() yields, when joined
    max_concurrency: int      # jobs it serves well at once (synthesize() is called from that many threads)
    # Which of FEATURES this engine honours: "context", "cloning" (reference audio and stored voices),
    # "sampling" (temperature, top_k; then default_temperature and default_top_k are set), "phonemes" (IPA
    # pronunciations: then synthesize_phonemes).
    features: frozenset[str]
    default_temperature: float | None
    default_top_k: int | None

    def voices(self) -> list[VoiceInfo]:
        """Every built-in voice this engine knows, installed or not."""
        ...

    def capabilities(self) -> Capabilities:
        """What requests are parsed against, current as of now (a voice installed meanwhile counts); called
        once per request, so cheap."""
        ...

    def synthesize(self, text: str, request: SynthesisRequest, conditioning: Conditioning,
                   previous: tuple[str, np.ndarray] | None = None,
                   deadline: float | None = None) -> Iterator[Piece]:
        """One chunk of normalized text to audio, yielded in pieces as it is made (a whole sentence per piece,
        or parts of a segment as frames are decoded); the service joins segments with `pause_ms` between.
        `previous` is the request's preceding chunk (text, native-rate audio), for engines that keep
        one voice across chunks by conditioning on it. `deadline` (time.monotonic()) is when the job's
        budget ends: an engine whose pieces take long stops generating by then (the service checks
        between pieces and discards the job). Raises VoiceNotInstalled, PromptTooLong or
        WorkerPoisoned (tts.errors) for what a request can cause."""
        ...

    def close(self) -> None:
        """Stop whatever threads the engine runs (the worker is shutting down); later calls fail."""
        ...

    # Engines with the "phonemes" feature also have:
    #     def synthesize_phonemes(self, ipa: str, request: SynthesisRequest) -> Iterator[Piece]
    # which speaks an IPA pronunciation, or raises tts.errors.UnspeakablePhonemes naming the sounds it lacks.
