"""The actions a job can ask for instead of synthesis: health, list_voices, upload_voice, delete_voice."""
from __future__ import annotations

import time

from cache import AudioCache
from tts import formats
from tts.config import Settings
from tts.engines import Engine
from tts.errors import InputError
from tts.metrics import Metrics
from tts.request import ActionRequest
from tts.resolve import Resolver
from tts.voices import VoiceLibrary


class Actions:
    def __init__(self, engine: Engine, cache: AudioCache, settings: Settings, library: VoiceLibrary | None,
                 resolver: Resolver, metrics: Metrics):
        self.engine = engine
        self.cache = cache
        self.settings = settings
        self.library = library
        self.resolver = resolver
        self.metrics = metrics        # the service's numbers: health reports its job counts
        self.started = time.time()

    def run(self, request: ActionRequest) -> dict:
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
            "cache": self.cache.stats(),
            "counts": self.metrics.counts(),
            "uptime_s": round(time.time() - self.started, 1),
        }

    def list_voices(self) -> dict:
        return {"engine": self.engine.name, "default_voice": self.engine.default_voice, "voices": self.voices()}

    def upload_voice(self, name: str, text: str, audio) -> dict:
        return {"voice": self.library.save(name, self.resolver.audio(audio), text)}

    def delete_voice(self, name: str) -> dict:
        if not self.library.delete(name):
            raise InputError("name", f"no stored voice {name!r}; stored: {', '.join(self.library.names()) or 'none'}")
        return {"deleted": name}

    def voices(self) -> list[dict]:
        """Built-in voices, then stored ones."""
        voices = [{**v.as_dict(), "stored": False} for v in self.engine.voices()]
        if self.library is not None:
            voices += [{"name": v["name"], "installed": True, "language": self.engine.languages[0],
                        "description": f"stored voice, {v['seconds']} s: {v['text'][:80]}", "stored": True}
                       for v in self.library.describe()]
        return voices
