"""The engine protocol every TTS backend implements."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Iterator, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from tts.request import SynthesisRequest


@dataclass(frozen=True)
class VoiceInfo:
    name: str
    installed: bool          # usable now without any download
    language: str
    description: str

    def as_dict(self) -> dict:
        return asdict(self)


@runtime_checkable
class Engine(Protocol):
    """A loaded model. The service validates requests against these attributes, then calls synthesize."""

    name: str                 # registry name, e.g. "hibari"
    model_id: str             # what the output's `model` field says
    model_version: str        # part of the cache key: new weights never serve old audio
    device: str               # "cpu", "cuda:0", ...
    sample_rate: int          # native rate of synthesize()'s output
    default_voice: str | None
    speakers: range           # allowed `speaker` values
    languages: tuple[str, ...]  # primary language subtags accepted, e.g. ("en",)
    max_chunk_chars: int      # text is cut into chunks of at most this many characters
    pause_ms: int             # silence between the pieces synthesize() yields, when joined
    # Optional request features this engine honours: "context", "cloning" (reference audio and stored
    # voices), "sampling" (temperature, top_k; then default_temperature and default_top_k are set).
    features: frozenset[str]

    def voices(self) -> list[VoiceInfo]:
        """Every voice this engine knows, installed or not."""
        ...

    def synthesize(self, text: str, request: "SynthesisRequest",
                   previous: tuple[str, np.ndarray] | None = None) -> Iterator[np.ndarray]:
        """One chunk of normalized text to mono float32 audio in [-1, 1] at `sample_rate`, yielded in
        pieces (a sentence, say) as each is ready; the service joins them with `pause_ms` between.
        `previous` is the request's preceding chunk (text, native-rate audio), for engines that keep
        one voice across chunks by conditioning on it."""
        ...
