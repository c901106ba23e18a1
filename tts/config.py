"""Settings read from the environment once, at container start."""
from __future__ import annotations

import os
from dataclasses import dataclass


def _int_env(name: str, default: int, minimum: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number (default {default})") from None
    if value < minimum:
        raise ValueError(f"{name}={value} is below the minimum {minimum}")
    return value


@dataclass(frozen=True)
class Settings:
    engine: str
    max_text_chars: int
    max_response_bytes: int
    cache_dir: str | None      # None: pick /runpod-volume or a local dir (see cache.default_cache_dir)
    cache_max_bytes: int
    output_dir: str | None     # also write each result's audio here (local development)

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            engine=os.environ.get("TTS_ENGINE", "hibari").strip().lower() or "hibari",
            max_text_chars=_int_env("MAX_TEXT_CHARS", 5000, 1),
            max_response_bytes=_int_env("MAX_RESPONSE_BYTES", 15_000_000, 1024),
            cache_dir=os.environ.get("CACHE_DIR") or None,
            cache_max_bytes=_int_env("CACHE_MAX_BYTES", 10 * 1024**3, 0),
            output_dir=os.environ.get("OUTPUT_DIR") or None,
        )
