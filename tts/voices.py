"""Voice library: named reference clips (24 kHz mono WAV + transcript) on the network volume.

Layout: <dir>/<name>.wav and <dir>/<name>.json ({"text", "seconds", "sha256", "created"}). Both are written
to temp names and renamed, the JSON last, so a voice is listed only once its audio is complete."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time

import soundfile as sf

from cache import atomic_write
from tts import audio
from tts.audio_input import AudioClip
from tts.errors import InputError

log = logging.getLogger("tts.voices")

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


class VoiceLibrary:
    def __init__(self, directory: str, rate: int):
        self.directory = directory
        self.rate = rate

    def _paths(self, name: str) -> tuple[str, str]:
        if not NAME_RE.fullmatch(name):  # no path tricks, whoever calls
            raise ValueError(f"invalid voice name {name!r}")
        base = os.path.join(self.directory, name)
        return base + ".wav", base + ".json"

    def names(self) -> list[str]:
        try:
            files = os.listdir(self.directory)
        except OSError:
            return []
        return sorted(f[:-5] for f in files if f.endswith(".json") and NAME_RE.fullmatch(f[:-5]))

    def describe(self) -> list[dict]:
        out = []
        for name in self.names():
            meta = self._meta(name)
            if meta is not None:
                out.append({"name": name, "seconds": meta["seconds"], "text": meta["text"], "created": meta["created"]})
        return out

    def _meta(self, name: str) -> dict | None:
        try:
            with open(self._paths(name)[1], encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def get(self, name: str) -> tuple[AudioClip, str] | None:
        """(clip, transcript), or None when there is no such voice (or the name is not a valid one)."""
        if not NAME_RE.fullmatch(name):
            return None
        wav, _ = self._paths(name)
        meta = self._meta(name)
        if meta is None:
            return None
        try:
            samples, rate = sf.read(wav, dtype="float32")
        except (OSError, sf.LibsndfileError) as e:
            log.warning("voice %s: unreadable audio in %s: %s", name, self.directory, e)
            return None
        if rate != self.rate:
            samples = audio.resample(samples, rate, self.rate)
        return AudioClip(samples, self.rate, meta["sha256"]), meta["text"]

    def save(self, name: str, clip: AudioClip, text: str) -> dict:
        if clip.rate != self.rate:
            raise ValueError(f"clip at {clip.rate} Hz, library at {self.rate} Hz")
        wav, meta_path = self._paths(name)
        pcm = audio.to_pcm16(clip.samples)
        meta = {"text": text, "seconds": round(clip.seconds, 2),
                "sha256": hashlib.sha256(pcm.tobytes()).hexdigest(),  # of what is stored: the cache key's part
                "created": int(time.time())}
        try:
            os.makedirs(self.directory, exist_ok=True)
            atomic_write(wav, lambda f: sf.write(f, pcm, self.rate, format="WAV", subtype="PCM_16"))
            atomic_write(meta_path, lambda f: f.write(json.dumps(meta).encode()))
        except OSError as e:
            raise InputError("name", f"could not store voice {name!r} in {self.directory}: {e}") from None
        log.info("voice %s stored (%.1f s)", name, clip.seconds)
        return {"name": name, **meta}

    def delete(self, name: str) -> bool:
        wav, meta_path = self._paths(name)
        found = False
        for path in (meta_path, wav):  # JSON first: the voice disappears from listings at once
            try:
                os.unlink(path)
                found = True
            except FileNotFoundError:
                pass
        return found
