"""Audio that arrives in a request (base64, or bytes fetched from a URL) -> mono float32 at the engine's rate,
within limits."""
from __future__ import annotations

import base64
import binascii
import hashlib
import io
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from tts import audio
from tts.errors import InputError

MAX_BYTES = 10 * 1024 * 1024
MAX_SECONDS = 30.0
MIN_RATE, MAX_RATE = 4000, 192_000
MAX_CHANNELS = 8


@dataclass(frozen=True)
class AudioClip:
    samples: np.ndarray   # float32 mono at `rate`
    rate: int
    sha256: str           # of the converted samples: the same sound hashes the same whatever its container

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate


def from_base64(field: str, value, rate: int, max_seconds: float = MAX_SECONDS,
                max_bytes: int = MAX_BYTES) -> AudioClip:
    if not isinstance(value, str) or not value:
        raise InputError(field, "must be a non-empty base64 string of an audio file (WAV, FLAC, OGG or MP3)")
    if value.startswith("data:") and "," in value:  # a data URL from a browser: data:audio/wav;base64,....
        value = value.split(",", 1)[1]
    if len(value) > (max_bytes + 2) // 3 * 4 + 4:
        raise InputError(field, f"{len(value) * 3 // 4 / 1e6:.1f} MB is over the {max_bytes / 1e6:.0f} MB limit")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(field, "is not valid base64; send the audio file's bytes base64-encoded") from None
    return from_bytes(field, data, rate, max_seconds)


def from_bytes(field: str, data: bytes, rate: int, max_seconds: float = MAX_SECONDS) -> AudioClip:
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            source_rate, channels = f.samplerate, f.channels
            # Headers can claim anything: check them before reading allocates by what they say.
            if not MIN_RATE <= source_rate <= MAX_RATE:
                raise InputError(field, f"a sample rate of {source_rate} Hz is not audio this worker reads "
                                        f"({MIN_RATE}-{MAX_RATE} Hz)")
            if not 1 <= channels <= MAX_CHANNELS:
                raise InputError(field, f"has {channels} channels; send mono or stereo audio")
            if f.frames > max_seconds * source_rate:
                raise InputError(field, f"{f.frames / source_rate:.1f} s is longer than the {max_seconds:.0f} s "
                                        "allowed; trim it")
            # At most the allowed length plus one frame, whatever the header said (MP3's is an estimate).
            samples = f.read(frames=int(max_seconds * source_rate) + 1, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, OverflowError, MemoryError) as e:
        if isinstance(e, InputError):
            raise
        raise InputError(field, f"could not be read as audio (WAV, FLAC, OGG or MP3): {type(e).__name__}: "
                                f"{str(e)[:200]}") from None
    if len(samples) > max_seconds * source_rate:
        raise InputError(field, f"is longer than the {max_seconds:.0f} s allowed; trim it")
    if not np.isfinite(samples).all():
        raise InputError(field, "contains samples that are not numbers (NaN or infinity); send ordinary audio")
    mono = samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0]
    if len(mono) < source_rate // 10:
        raise InputError(field, f"{len(mono) / source_rate * 1000:.0f} ms is too short; send at least 0.1 s of speech")
    converted = np.ascontiguousarray(audio.resample(mono, source_rate, rate), dtype=np.float32)
    return AudioClip(converted, rate, hashlib.sha256(converted.tobytes()).hexdigest())
