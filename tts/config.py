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


VOLUME = "/runpod-volume"


def on_volume(name: str, local: str, volume: str = VOLUME) -> str:
    """<volume>/<name> when a RunPod network volume is mounted and writable (shared by every worker, kept
    across cold starts), else `local`."""
    if os.path.isdir(volume) and os.access(volume, os.W_OK):
        return os.path.join(volume, name)
    return local


def _user_dir(xdg_var: str, fallback: str, *parts: str) -> str:
    base = os.environ.get(xdg_var) or os.path.join(os.path.expanduser("~"), fallback)
    return os.path.join(base, *parts)


@dataclass(frozen=True)
class Settings:
    engine: str
    max_text_chars: int
    max_response_bytes: int
    cache_dir: str
    cache_max_bytes: int
    voices_dir: str            # the stored-voice library (engines that clone voices)
    output_dir: str | None     # also write each result's audio here (local development)

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            engine=os.environ.get("TTS_ENGINE", "hibari").strip().lower() or "hibari",
            max_text_chars=_int_env("MAX_TEXT_CHARS", 5000, 1),
            max_response_bytes=_int_env("MAX_RESPONSE_BYTES", 15_000_000, 1024),
            cache_dir=os.environ.get("CACHE_DIR") or on_volume(
                "tts-cache", _user_dir("XDG_CACHE_HOME", ".cache", "runpod-tts-worker")),
            cache_max_bytes=_int_env("CACHE_MAX_BYTES", 10 * 1024**3, 0),
            voices_dir=os.environ.get("VOICES_DIR") or on_volume(
                "tts-voices", _user_dir("XDG_DATA_HOME", ".local/share", "runpod-tts-worker", "voices")),
            output_dir=os.environ.get("OUTPUT_DIR") or None,
        )
