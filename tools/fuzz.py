"""A seeded fuzzer for the worker: hostile job inputs through the whole service, and mutated audio files
through the decoder. Shared by tests/test_fuzz.py (a few hundred cases) and bench/fuzz.py (thousands).

Every outcome must be audio or a one-line field error; `internal:` errors, multi-line or unbounded errors and
jobs over their time budget are findings. URLs in generated requests only name loopback, private or malformed
hosts, so nothing leaves the machine."""
from __future__ import annotations

import base64
import io
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import soundfile as sf

from tts.doors.queue import queue_job
from tts.errors import show

FIELD_ERROR = re.compile(r"^\S[^\n]{0,130}?: \S")  # "<field path>: <message>"
MAX_ERROR_CHARS = 1200

_FIELDS = ["text", "voice", "speaker", "format", "sample_rate", "speed", "seed", "cache", "language",
           "max_audio_length_ms", "context", "reference_audio", "reference_text", "temperature", "top_k",
           "output_mode", "s3Config", "speaker_id", "local_voice", "response_format"]
_ACTION_FIELDS = ["name", "audio_base64", "audio_url", "text", "voice_name", "voice_file_url", "ref_text"]
_TEXTS = ["Hello.", "Hi there, how are you?", "1234567890123456789012345678901234567890", "x² ¹²³ ½",
          "\ud800 lone", "emoji 😀", "你好", "", "   ", "\u200b", "a" * 300, "Dr. Smith paid $3.50 at 10:45.",
          "ⅷ", "\x00\x01 control", "١٢٣", "-0.0", "1e308", "line\nbreak", "<speak>ssml</speak>"]
_URLS = ["http://127.0.0.1:9/x.wav", "http://localhost/x", "http://[::1]/x", "http://[::127.0.0.1]/x",
         "http://[::ffff:127.0.0.1]/x", "http://[64:ff9b::7f00:1]/x", "http://[2002:7f00:1::]/x",
         "http://10.0.0.1/x", "http://169.254.169.254/latest", "http://host:99999/x", "http://:80/x",
         "file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://x", "http://user:pw@127.0.0.1/x", "http://[::1",
         "https://0x7f.1/x", "http://2130706433/x", "not a url", "http://%00/x", "http://\ud800/x", ""]


def _clip(rng: random.Random, fmt: str = "WAV") -> bytes:
    n = rng.choice([100, 4800, 12000, 24000])
    samples = (0.2 * np.sin(np.arange(n) * rng.uniform(0.01, 0.3))).astype(np.float32)
    buf = io.BytesIO()
    subtype = {"WAV": "PCM_16", "FLAC": "PCM_16", "OGG": "VORBIS", "MP3": "MPEG_LAYER_III"}[fmt]
    rates = [8000, 16000, 24000, 44100] if fmt == "MP3" else [8000, 16000, 16001, 24000, 44100]
    sf.write(buf, samples, rng.choice(rates), format=fmt, subtype=subtype)
    return buf.getvalue()


def _value(rng: random.Random, depth: int = 0):
    """Any JSON value, biased toward the awkward ones."""
    kind = rng.randrange(14)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 1, 9, 10, 7999, 16001, 47999, 48001, 2**63, -(2**63), 10**40, 10**5000])
    if kind == 3:
        return rng.choice([0.0, -0.0, 0.5, 1.5, 24000.0, 22050.5, 1e308, float("inf"), float("nan"), 1e-320])
    if kind == 4:
        return rng.choice(_TEXTS)
    if kind == 5:
        return "".join(chr(rng.randrange(0x110000)) for _ in range(rng.randrange(1, 12)))
    if kind == 6 and depth < 3:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == 7 and depth < 3:
        return {rng.choice(_FIELDS + ["x", "\ud800", ""]): _value(rng, depth + 1) for _ in range(rng.randrange(4))}
    if kind == 8:
        deep: list = []
        inner = deep
        for _ in range(rng.choice([50, 500])):
            inner.append([])
            inner = inner[0]
        return deep
    if kind == 9:
        return rng.choice(_URLS)
    if kind == 10:
        data = _clip(rng, rng.choice(["WAV", "FLAC", "OGG"])) if rng.random() < 0.5 else mutated_audio(rng)
        return base64.b64encode(data).decode()
    if kind == 11:
        return rng.choice(["wav", "mp3", "ogg", "opus", "flac", "pcm", "aac", "WAV ", "wave"])
    if kind == 12:
        return "x" * rng.choice([1000, 100_000])
    return rng.choice(["heart", "alice", "../x", "emma", "en", "en-US", "fr", "health", "list_voices"])


def synthesis_input(rng: random.Random) -> object:
    """A job input: mostly a plausible request with one to three hostile changes, sometimes pure noise."""
    if rng.random() < 0.05:
        return _value(rng)
    if rng.random() < 0.15:
        key = rng.choice(["action", "endpoint"])
        raw = {key: rng.choice(["health", "list_voices", "upload_voice", "upload", "delete_voice", 3, ["x"],
                                None, "\ud800", "reboot"])}
        for _ in range(rng.randrange(4)):
            raw[rng.choice(_ACTION_FIELDS)] = _value(rng)
        return raw
    raw: dict = {"text": rng.choice(["Hi.", "Hello there.", "One. Two."]), "cache": False}
    for _ in range(rng.randrange(1, 4)):
        name = rng.choice(_FIELDS + ["voice_id", "\ud800", "x" * 200])
        raw[name] = _value(rng)
    if rng.random() < 0.1:
        raw["context"] = [{"text": _value(rng), "speaker": _value(rng), "audio_base64": _value(rng)}
                          for _ in range(rng.randrange(3))]
    return raw


def mutated_audio(rng: random.Random) -> bytes:
    """A valid clip with its header or body damaged."""
    data = bytearray(_clip(rng, rng.choice(["WAV", "FLAC", "OGG", "MP3"])))
    how = rng.randrange(6)
    if how == 0:  # flip bytes anywhere
        for _ in range(rng.randrange(1, 20)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif how == 1:  # cut it short
        data = data[: rng.randrange(1, len(data))]
    elif how == 2 and data[:4] == b"RIFF":  # a WAV header that lies: channels, rate, size fields
        offset = rng.choice([22, 24, 28, 32, 34, 40, 4])
        data[offset:offset + 4] = rng.getrandbits(32).to_bytes(4, "little")
    elif how == 3:  # float WAV with NaN and infinities
        samples = np.full(4800, np.nan, np.float32)
        samples[::3] = np.inf
        buf = io.BytesIO()
        sf.write(buf, samples, 24000, format="WAV", subtype="FLOAT")
        data = bytearray(buf.getvalue())
    elif how == 4:  # header bytes of the first 64 overwritten
        for _ in range(4):
            data[rng.randrange(min(64, len(data)))] = rng.randrange(256)
    else:  # garbage with a plausible magic
        data = bytearray(rng.choice([b"RIFF", b"fLaC", b"OggS", b"ID3\x03"]) + rng.randbytes(rng.randrange(0, 400)))
    return bytes(data)


@dataclass
class Report:
    outcomes: Counter = field(default_factory=Counter)
    findings: list = field(default_factory=list)     # (what, input repr, detail)
    slowest_s: float = 0.0

    def add(self, outcome: str, case: object, detail: str = "", seconds: float = 0.0) -> None:
        self.outcomes[outcome] += 1
        self.slowest_s = max(self.slowest_s, seconds)
        if outcome.startswith("FINDING"):
            self.findings.append((outcome, show(case), detail[:500]))


def run_requests(service, cases: int, seed: int, budget_s: float, report: Report | None = None) -> Report:
    report = report or Report()
    rng = random.Random(seed)
    for i in range(cases):
        raw = synthesis_input(rng)
        t = time.perf_counter()
        out = queue_job(service, raw, job_id=f"fuzz-{seed}-{i}")
        took = time.perf_counter() - t
        if took > budget_s:
            report.add("FINDING over budget", raw, f"{took:.1f} s", took)
        elif "error" not in out:
            report.add("ok", raw, seconds=took)
        else:
            report.add(_classify(out["error"]), raw, out["error"], took)
    return report


def _classify(error: object) -> str:
    if not isinstance(error, str):
        return "FINDING error is not a string"
    if error.startswith("internal:"):
        return "FINDING internal error"
    if "\n" in error or len(error) > MAX_ERROR_CHARS:
        return "FINDING unbounded or multi-line error"
    if not FIELD_ERROR.match(error):
        return "FINDING error without a field"
    return "field error"


def run_audio(decode, cases: int, seed: int, budget_s: float, report: Report | None = None) -> Report:
    """`decode(data)` is the worker's decoder; InputError is the expected refusal."""
    from tts.errors import InputError

    report = report or Report()
    rng = random.Random(seed)
    for _ in range(cases):
        data = mutated_audio(rng)
        t = time.perf_counter()
        try:
            clip = decode(data)
            outcome = "decoded" if np.isfinite(clip.samples).all() else "FINDING non-finite samples accepted"
            detail = ""
        except InputError as e:
            outcome, detail = _classify(str(e)), str(e)
            outcome = "refused" if outcome == "field error" else outcome
        except Exception as e:  # noqa: BLE001 - anything else is what we are looking for
            outcome, detail = "FINDING decoder raised", f"{type(e).__name__}: {e}"
        took = time.perf_counter() - t
        if took > budget_s:
            outcome = "FINDING over budget"
        report.add(outcome, data[:48], detail, took)
    return report
