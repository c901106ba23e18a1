"""Cache keys: SHA256 of a canonical JSON of everything that changes the audio bytes. A new request field that
changes the audio goes into synthesis_key's fields; a change of the audio pipeline bumps PIPELINE_VERSION."""
from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tts.engines import Engine
    from tts.request import Conditioning, SynthesisRequest
    from tts.text.script import Script

# Bump when the audio pipeline (joining, resampling, encoders) changes output for the same request.
PIPELINE_VERSION = 5  # 2: libsoxr resampling, deterministic Ogg serials; 3: Ogg pages every 200 ms;
                      # 4: constant-bitrate MP3; 5: the key hashes the spoken script (text front end) and the bitrate


def cache_key(fields: dict) -> str:
    """Hex SHA256 of `fields` as canonical JSON (sorted keys, no spaces, UTF-8 kept)."""
    canonical = json.dumps({"pipeline": PIPELINE_VERSION, **fields}, sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def synthesis_key(engine: Engine, r: SynthesisRequest, c: Conditioning, script: Script) -> str:
    """The key of a synthesis: what is spoken (the front end's script: words, phonemes and pauses, so the same
    speech written two ways shares an entry, and a pronunciation that changes it does not), the request's other
    audio-shaping fields, the engine (name, model, its version and how it generates), and the conditioning audio
    by its hash."""
    def turn(t):
        return None if t is None else {"text": t.text, "speaker": t.speaker, "audio": t.audio.sha256}

    return cache_key({
        "text": [seg.key() for seg in script], "engine": engine.name, "model": engine.model_id,
        "model_version": engine.model_version,
        "variant": engine.variant, "voice": r.voice, "speaker": r.speaker, "format": r.format,
        "sample_rate": r.sample_rate, "speed": r.speed, "seed": r.seed, "language": r.language,
        "max_audio_length_ms": r.max_audio_length_ms, "reference": turn(c.reference),
        "context": [turn(t) for t in c.context], "temperature": r.temperature, "top_k": r.top_k,
        "bitrate_kbps": r.bitrate_kbps})
