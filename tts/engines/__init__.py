"""Engine registry: name -> "module:Class". Adding an engine is one file plus one line here."""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .base import Capabilities, Engine, Piece, VoiceInfo

if TYPE_CHECKING:
    from tts.config import Settings

ENGINES: dict[str, str] = {
    "hibari": "tts.engines.hibari:HibariEngine",
    "csm": "tts.engines.csm:CsmEngine",
}


def load_engine(name: str, settings: Settings) -> Engine:
    """Import and construct the engine registered under `name` (its module is imported only now)."""
    try:
        target = ENGINES[name]
    except KeyError:
        raise ValueError(f"TTS_ENGINE={name!r} is not a known engine; choose one of: {', '.join(ENGINES)}") from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)(settings)


__all__ = ["ENGINES", "Capabilities", "Engine", "Piece", "VoiceInfo", "load_engine"]
