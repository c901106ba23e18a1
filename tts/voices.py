"""Voice library: named reference clips (mono PCM16 + transcript) on the network volume.

Each voice is one record file, <dir>/<name>.voice (cache/record.py): header {"name", "text", "seconds", "rate",
"created"} and the samples, written whole and replaced whole, so concurrent uploads of one name leave one of
them entire and a delete leaves nothing half-usable. What conditions synthesis, and its cache key, comes from
the verified stored samples themselves. Voices stored by earlier versions as <name>.wav + <name>.json are
still read; saving a name replaces them. Temp files a killed writer left are removed at start. A voice the volume
refuses to store (full, read-only) is a StorageError: the worker's failure, not the request's."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time

import numpy as np
import soundfile as sf

from cache import record, volume
from tts import audio
from tts.audio_input import AudioClip
from tts.errors import StorageError

log = logging.getLogger("tts.voices")

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
MAGIC = b"RPVOICE1\n"
SUFFIX = ".voice"
_LEGACY = (".json", ".wav")


class VoiceLibrary:
    def __init__(self, directory: str, rate: int):
        self.directory = directory
        self.rate = rate
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self.volume = volume.Health(directory)
        if swept := record.sweep(directory):
            log.info("removed %d temp files of killed voice uploads", swept)

    def _path(self, name: str, suffix: str = SUFFIX) -> str:
        if not NAME_RE.fullmatch(name):  # no path tricks, whoever calls
            raise ValueError(f"invalid voice name {name!r}")
        return os.path.join(self.directory, name + suffix)

    def _lock(self, name: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(name, threading.Lock())

    def names(self) -> list[str]:
        try:
            files = os.listdir(self.directory)
        except OSError:
            return []
        names = {f[: -len(suffix)] for f in files for suffix in (SUFFIX, _LEGACY[0]) if f.endswith(suffix)}
        return sorted(n for n in names if NAME_RE.fullmatch(n))

    def describe(self) -> list[dict]:
        """{name, seconds, text, created} of each stored voice; an unreadable one is logged and left out."""
        out = []
        for name in self.names():
            meta = self._meta(name)
            if meta is not None:
                out.append({"name": name, "seconds": meta["seconds"], "text": meta["text"],
                            "created": meta["created"]})
        return out

    def get(self, name: str) -> tuple[AudioClip, str] | None:
        """(clip, transcript), or None when there is no such usable voice (or the name is not a valid one)."""
        if not NAME_RE.fullmatch(name):
            return None
        try:
            header, payload = record.read(self._path(name), MAGIC)
        except FileNotFoundError:
            return self._get_legacy(name)
        except (record.Corrupt, OSError) as e:
            log.warning("voice %s in %s is unusable: %s", name, self.directory, e)
            return None
        if not _valid_meta(header, name) or len(payload) % 2:
            log.warning("voice %s in %s has a malformed header", name, self.directory)
            return None
        samples = np.frombuffer(payload, "<i2").astype(np.float32) / 32768.0
        return self._clip(samples, header["rate"], hashlib.sha256(payload).hexdigest()), header["text"]

    def save(self, name: str, clip: AudioClip, text: str) -> dict:
        if clip.rate != self.rate:
            raise ValueError(f"clip at {clip.rate} Hz, library at {self.rate} Hz")
        pcm = audio.to_pcm16(clip.samples).tobytes()
        meta = {"name": name, "text": text, "seconds": round(clip.seconds, 2), "rate": self.rate,
                "created": int(time.time())}
        with self._lock(name):
            try:
                os.makedirs(self.directory, exist_ok=True)
                record.write(self._path(name), MAGIC, meta, pcm)
            except OSError as e:
                self.volume.failed("write", e)
                raise _storage_error(f"store voice {name!r}", e) from None
            self.volume.wrote()
            for suffix in _LEGACY:  # an earlier version's files for this name would otherwise linger in listings
                record.unlink(self._path(name, suffix))
        log.info("voice %s stored (%.1f s)", name, clip.seconds)
        return {"name": name, "text": text, "seconds": meta["seconds"], "created": meta["created"],
                "sha256": hashlib.sha256(pcm).hexdigest()}

    def delete(self, name: str) -> bool:
        """False when there was no such voice. A volume that refuses the removal raises StorageError (a voice that
        is still there is not "not found")."""
        found = False
        with self._lock(name):
            for suffix in (SUFFIX, *_LEGACY):
                try:
                    os.unlink(self._path(name, suffix))
                    found = True
                except FileNotFoundError:
                    continue
                except OSError as e:
                    self.volume.failed("delete", e)
                    raise _storage_error(f"delete voice {name!r}", e) from None
        return found

    def stats(self) -> dict:
        """The health report's part: writable (the last write's outcome), free_bytes, last_error."""
        return self.volume.report()

    def _meta(self, name: str) -> dict | None:
        try:
            header = record.read_header(self._path(name), MAGIC)
        except FileNotFoundError:
            header = self._legacy_meta(name)
            return header if header is not None and _valid_meta(header) else None
        except (record.Corrupt, OSError) as e:
            log.warning("voice %s in %s is unusable: %s", name, self.directory, e)
            return None
        return header if _valid_meta(header, name) else None

    def _legacy_meta(self, name: str) -> dict | None:
        try:
            with open(self._path(name, ".json"), encoding="utf-8") as f:
                meta = json.load(f)
        except (OSError, ValueError):
            return None
        if not isinstance(meta, dict):
            return None
        return {"name": name, "rate": self.rate, **meta}

    def _get_legacy(self, name: str) -> tuple[AudioClip, str] | None:
        meta = self._legacy_meta(name)
        if meta is None or not _valid_meta(meta):
            return None
        try:
            pcm, rate = sf.read(self._path(name, ".wav"), dtype="int16")
        except (OSError, sf.LibsndfileError, RuntimeError) as e:
            log.warning("voice %s: unreadable audio in %s: %s", name, self.directory, e)
            return None
        if pcm.ndim != 1 or len(pcm) == 0:
            return None
        # The key comes from the audio as it is now, not from what the JSON says it was.
        digest = hashlib.sha256(pcm.astype("<i2").tobytes()).hexdigest()
        return self._clip(pcm.astype(np.float32) / 32768.0, rate, digest), meta["text"]

    def _clip(self, samples: np.ndarray, rate: int, digest: str) -> AudioClip:
        if rate != self.rate:
            samples = audio.resample(samples, rate, self.rate)
        return AudioClip(np.ascontiguousarray(samples, dtype=np.float32), self.rate, digest)


def _storage_error(what: str, e: OSError) -> StorageError:
    full = e.errno in volume.FULL
    hint = "the volume is full; retry in a minute" if full else "retry later"
    return StorageError(f"could not {what}: {volume.describe(e)}; {hint}", full)


def _valid_meta(meta: dict, name: str | None = None) -> bool:
    return (isinstance(meta.get("text"), str) and isinstance(meta.get("seconds"), (int, float))
            and isinstance(meta.get("created"), int) and isinstance(meta.get("rate"), int)
            and 4000 <= meta["rate"] <= 192_000 and (name is None or meta.get("name") == name))
