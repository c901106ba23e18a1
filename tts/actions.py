"""The actions a job can ask for instead of synthesis: health, list_voices, upload_voice, delete_voice."""
from __future__ import annotations

import time

from cache import AudioCache
from tts import formats
from tts.config import Settings
from tts.engines import Engine
from tts.errors import InputError, StorageError
from tts.lexicons import LexiconLibrary
from tts.metrics import Metrics
from tts.request import ActionRequest
from tts.resolve import Resolver
from tts.voices import VoiceLibrary


class Actions:
    def __init__(self, engine: Engine, cache: AudioCache, settings: Settings, library: VoiceLibrary | None,
                 resolver: Resolver, metrics: Metrics, lexicons: LexiconLibrary):
        self.engine = engine
        self.cache = cache
        self.settings = settings
        self.library = library
        self.resolver = resolver
        self.metrics = metrics        # the service's numbers: health reports its job counts
        self.lexicons = lexicons
        self.started = time.time()

    def run(self, request: ActionRequest, deadline: float | None = None) -> dict:
        """The action's output; a download ends by `deadline` (time.monotonic(), the job's budget)."""
        if request.action == "upload_voice":
            return self.upload_voice(**request.params, deadline=deadline)
        return getattr(self, request.action)(**request.params)

    def health(self) -> dict:
        e = self.engine
        return {
            "status": "ok",
            "engine": e.name,
            "model": e.model_id,
            "model_version": e.model_version,
            "device": e.device,
            "sample_rate": e.sample_rate,
            "default_voice": e.default_voice,
            "voices": [v["name"] for v in self.voices() if v["installed"]],
            "formats": list(formats.FORMATS),
            "limits": {"max_text_chars": self.settings.max_text_chars,
                       "max_response_bytes": self.settings.max_response_bytes},
            "features": sorted(e.features),
            "voices_dir": self.library.directory if self.library else None,
            "voices_store": self.library.stats() if self.library else None,  # writable, free_bytes, last_error
            "cache": self.cache.stats(),
            "counts": self.metrics.counts(),
            "uptime_s": round(time.time() - self.started, 1),
        }

    def list_voices(self) -> dict:
        return {"engine": self.engine.name, "default_voice": self.engine.default_voice, "voices": self.voices()}

    def upload_voice(self, name: str, text: str, audio, deadline: float | None = None) -> dict:
        clip = self.resolver.audio(audio, deadline)
        try:
            return {"voice": self.library.save(name, clip, text)}
        except StorageError as e:
            # The cache shares the volume and gives way to voices: what it evicts, a later miss can make again.
            room = clip.samples.size * 2 + 4096  # the PCM16 samples and a header
            if not e.full or not self.cache.make_room(room, self.library.directory):
                raise
        return {"voice": self.library.save(name, clip, text)}

    def delete_voice(self, name: str) -> dict:
        if not self.library.delete(name):
            raise InputError("name", f"no stored voice {name!r}; stored: {', '.join(self.library.names()) or 'none'}")
        return {"deleted": name}

    def upload_lexicon(self, name: str, entries: dict) -> dict:
        return {"lexicon": self.lexicons.save(name, entries)}

    def list_lexicons(self) -> dict:
        return {"lexicons": self.lexicons.describe()}

    def delete_lexicon(self, name: str) -> dict:
        if not self.lexicons.delete(name):
            stored = ", ".join(self.lexicons.names()) or "none"
            raise InputError("name", f"no stored lexicon {name!r}; stored: {stored}")
        return {"deleted": name}

    def voices(self) -> list[dict]:
        """Built-in voices, then stored ones."""
        voices = [{**v.as_dict(), "stored": False} for v in self.engine.voices()]
        if self.library is not None:
            voices += [{"name": v["name"], "installed": True, "language": self.engine.languages[0],
                        "description": f"stored voice, {v['seconds']} s: {v['text'][:80]}", "stored": True}
                       for v in self.library.describe()]
        return voices
