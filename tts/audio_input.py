"""Audio that arrives in a request: base64 or an http(s) URL -> 24 kHz mono float32, within limits."""
from __future__ import annotations

import base64
import binascii
import hashlib
import io
import ipaddress
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from tts import audio
from tts.errors import InputError

MAX_BYTES = 10 * 1024 * 1024
MAX_SECONDS = 30.0
URL_TIMEOUT_S = 20.0
_READ_BLOCK = 64 * 1024


@dataclass(frozen=True)
class AudioClip:
    samples: np.ndarray   # float32 mono at `rate`
    rate: int
    sha256: str           # of the converted samples: the same sound hashes the same whatever its container

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate


def from_base64(field: str, value, rate: int, max_seconds: float = MAX_SECONDS, max_bytes: int = MAX_BYTES) -> AudioClip:
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
            seconds = f.frames / f.samplerate
            if seconds > max_seconds:
                raise InputError(field, f"{seconds:.1f} s is longer than the {max_seconds:.0f} s allowed; trim it")
            samples = f.read(dtype="float32", always_2d=True)
            source_rate = f.samplerate
    except (sf.LibsndfileError, RuntimeError, TypeError) as e:
        raise InputError(field, f"could not be read as audio (WAV, FLAC, OGG or MP3): {e}") from None
    mono = samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0]
    if len(mono) < source_rate // 10:
        raise InputError(field, f"{len(mono) / source_rate * 1000:.0f} ms is too short; send at least 0.1 s of speech")
    converted = np.ascontiguousarray(audio.resample(mono, source_rate, rate), dtype=np.float32)
    return AudioClip(converted, rate, hashlib.sha256(converted.tobytes()).hexdigest())


def from_url(field: str, url, rate: int, max_seconds: float = MAX_SECONDS, max_bytes: int = MAX_BYTES,
             timeout_s: float = URL_TIMEOUT_S) -> AudioClip:
    return from_bytes(field, download(field, url, max_bytes, timeout_s), rate, max_seconds)


def download(field: str, url, max_bytes: int = MAX_BYTES, timeout_s: float = URL_TIMEOUT_S) -> bytes:
    """GET an http(s) URL, refusing private addresses (unless ALLOW_PRIVATE_URLS=1), at most max_bytes,
    in at most timeout_s seconds all told."""
    if not isinstance(url, str):
        raise InputError(field, "must be an http(s) URL string")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(field, f"only http:// and https:// URLs are allowed; got {parts.scheme or 'no'} scheme")
    _refuse_private_host(field, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    deadline = time.monotonic() + timeout_s
    request = urllib.request.Request(url, headers={"User-Agent": "runpod-tts-worker"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as resp:
            declared = resp.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise InputError(field, f"the file is {int(declared) / 1e6:.1f} MB, over the {max_bytes / 1e6:.0f} MB limit")
            chunks, total = [], 0
            while block := resp.read1(_READ_BLOCK):  # read1: returns per recv, so the deadline holds
                total += len(block)
                if total > max_bytes:
                    raise InputError(field, f"the file is over the {max_bytes / 1e6:.0f} MB limit")
                if time.monotonic() > deadline:
                    raise InputError(field, f"the download took longer than {timeout_s:.0f} s")
                chunks.append(block)
    except urllib.error.HTTPError as e:
        raise InputError(field, f"the server answered HTTP {e.code} for {_safe(url)}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise InputError(field, f"could not download {_safe(url)}: {reason}") from None
    return b"".join(chunks)


def _refuse_private_host(field: str, host: str, port: int) -> None:
    if os.environ.get("ALLOW_PRIVATE_URLS", "").lower() in ("1", "true", "yes"):
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)}
    except socket.gaierror as e:
        raise InputError(field, f"cannot resolve host {host!r}: {e.strerror}") from None
    for addr in addresses:
        ip = ipaddress.ip_address(addr.split("%", 1)[0])
        if not ip.is_global:
            raise InputError(field, f"host {host!r} is a private or local address ({ip}); only public hosts are "
                                    "fetched (set ALLOW_PRIVATE_URLS=1 to allow)")


def _safe(url: str) -> str:
    """The URL without its query string: presigned URLs carry credentials there."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
