"""A seeded fuzzer for the worker: hostile job inputs through the whole service, mutated audio files through the
decoder, and jobs against servers that misbehave. Shared by tests/test_fuzz.py (a few hundred cases) and
bench/fuzz.py (thousands).

Every outcome must be audio that decodes in libsndfile and in FFmpeg to the length the result states, or a
one-line field error; `internal:` errors, multi-line or unbounded errors, audio that does not decode or whose
length is off, and jobs past their time budget are findings. Generators (GENERATORS) aim at parts of a request:
"mixed" (any field, any value), "unicode", "digits" and "numbers" (text the engine's front end must read),
"nesting" (values nested hundreds of levels deep). URLs in generated requests only name loopback, private or
malformed hosts, so nothing leaves the machine; run_faults points jobs at loopback stand-ins that drip their
answer or never answer (tools.harness)."""
from __future__ import annotations

import base64
import functools
import io
import ipaddress
import random
import re
import threading
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import soundfile as sf

from tools.harness import drip_server, silent_server
from tts.doors.queue import queue_job
from tts.errors import show
from tts.fetch import Fetcher, is_public

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


# -- hostile text: what reaches the engine's text front end, in an otherwise plain request -----------------------

_CATEGORIES = ("Mn", "Me", "Cf", "Zs", "Zl", "Zp", "Co", "Cs", "Cc", "No", "Nl", "Lm", "Sk")
_WORDS = ["Hello", "one", "Dr.", "x", "a", "The end.", "$", "%", "-", "I", "."]
_code_points: dict[str, list[int]] = {}


def _in_category(category: str) -> list[int]:
    """Every code point of a Unicode general category (found once, on first use)."""
    if not _code_points:
        for c in range(0x110000):
            _code_points.setdefault(unicodedata.category(chr(c)), []).append(c)
    return _code_points.get(category, [])


@functools.cache
def _zeros() -> list[int]:
    """The digit zero of every script with decimal digits (Arabic-Indic, Devanagari, fullwidth, Thai, ...)."""
    return [c for c in _in_category("Nd") if unicodedata.digit(chr(c)) == 0]


@functools.cache
def _numbers() -> list[int]:
    """Characters with a numeric value that are not decimal digits: superscripts, subscripts, circled numbers,
    fractions, Roman numerals."""
    return [c for c in _in_category("No") + _in_category("Nl") if unicodedata.numeric(chr(c), None) is not None]


def unicode_text(rng: random.Random) -> str:
    """Words among characters of awkward Unicode categories: combining and enclosing marks (stacked too),
    format characters (joiners, bidi controls, tags, BOM), separators (NBSP, U+2028/2029, ideographic space),
    private use, lone surrogates (JSON's "\\ud800" escapes arrive as those), controls, other numbers."""
    cats = rng.sample(_CATEGORIES, rng.randrange(1, 4))
    odd = lambda: chr(rng.choice(_in_category(rng.choice(cats))))  # noqa: E731
    how = rng.randrange(5)
    if how == 0:    # only odd characters
        return "".join(odd() for _ in range(rng.randrange(1, 40)))
    if how == 1:    # a letter under a tower of marks
        marks = _in_category("Mn")
        return rng.choice(_WORDS) + "".join(chr(rng.choice(marks)) for _ in range(rng.choice([3, 50, 500])))
    if how == 2:    # odd characters between and inside words
        return "".join(rng.choice([rng.choice(_WORDS), " ", odd(), odd() + rng.choice(_WORDS)])
                       for _ in range(rng.randrange(2, 30)))
    if how == 3:    # a sentence with one odd character in every gap
        return odd().join(["This", "is", "a", "sentence", "with", "odd", "gaps."])
    return "".join(odd() if rng.random() < 0.5 else rng.choice("aeiou 1.") for _ in range(rng.randrange(1, 80)))


def digit_text(rng: random.Random) -> str:
    """Numbers written in other scripts' digits, mixed scripts, and digit-like characters next to letters:
    "١٢٣", "१२३", "１２３", "1٢3", "¹a", "x²", "①", "½"."""
    number = str(rng.choice([0, 7, 42, 123, 1000, 2024, 10**6, 31415926, rng.randrange(10**12)]))
    zeros = _zeros()
    how = rng.randrange(6)
    if how == 0:    # one script
        zero = rng.choice(zeros)
        return "".join(chr(zero + int(d)) for d in number)
    if how == 1:    # a script per digit
        return "".join(chr(rng.choice(zeros) + int(d)) for d in number)
    if how == 2:    # superscripts, subscripts, circled, fractions, Roman numerals: beside letters and digits
        mark = chr(rng.choice(_numbers()))
        return rng.choice([f"{mark}a", f"x{mark}", f"{mark}{mark}", f"1{mark}", f"{mark} {number}", f"{mark}.",
                           f"{mark}1a", f"a{mark}b{mark}", f"{mark}-{mark}"])
    if how == 3:    # with separators of their own and of ours
        zero = rng.choice(zeros)
        digits = "".join(chr(zero + int(d)) for d in number)
        sep = rng.choice([",", ".", " ", "\u066c", "\u066b", "\uff0c", "\u00a0", "'", ":", "/"])
        return sep.join(digits[i:i + 3] for i in range(0, len(digits), 3))
    if how == 4:    # in a sentence
        zero = rng.choice(zeros)
        return f"Call {''.join(chr(zero + int(d)) for d in number)} at {rng.choice(['¹', '²', '³', '⁴'])}0 {number}."
    return rng.choice(["¹a", "²b", "³c", "x¹", "¹²³", "½a", "1½", "Ⅻa", "①b", "⁰", "₀₁", "𝟏𝟐𝟑", "٣.١٤", "१.५",
                       "１，０００", "Tel ０１２３", "٠", "1٢3", "³⁄₄"])


def number_text(rng: random.Random) -> str:
    """Long numbers: thousands groups past any table of their names, very many digits, long decimals and
    exponents, numbers run together."""
    how = rng.randrange(7)
    if how == 0:
        return ("1,000," * 834)[:5000]
    if how == 1:    # 11 to 20 groups of thousands (13 goes past "trillion"s table in most readers)
        return rng.choice(["1", "12", "999"]) + ",000" * rng.randrange(11, 21)
    if how == 2:
        return rng.choice("123456789") + "".join(rng.choice("0123456789") for _ in range(rng.choice([16, 40, 200])))
    if how == 3:
        return rng.choice(["0.", "-0.", "3.", "1e", "1E-", "-1e+", "$", "£", "#", "No. "]) + "9" * rng.choice([30, 120])
    if how == 4:    # numbers run together with separators and units
        return rng.choice([",", ".", ", ", " ", "-", "/", ":", "x"]).join(
            str(rng.randrange(10 ** rng.randrange(1, 16))) for _ in range(rng.randrange(2, 12)))
    if how == 5:
        return f"{rng.randrange(10**15)}{rng.choice(['st', 'nd', 'th', '%', 'km', ' kg', 's', '°C', 'th of May'])}"
    return " ".join(rng.choice(["1,000,000,000,000,000", "10^100", "1,0,0,0", "1,,000", ",000", "1,00,00,000",
                                "٫٣", "-" * 20 + "1"]) for _ in range(rng.randrange(1, 6)))


def nested(rng: random.Random) -> object:
    """A value nested deeper than anything a request holds: lists, objects or both, 50 to 900 levels (JSON
    parsers allow about a thousand), with a string, a number or nothing at the bottom."""
    value: object = rng.choice(["Hi.", 1, None, "", [], {}])
    for _ in range(rng.choice([50, 200, 900])):
        value = [value] if rng.random() < 0.5 else {rng.choice(["text", "x", "audio_base64"]): value}
    return value


def _plain(rng: random.Random, text: object) -> dict:
    raw = {"text": text, "cache": False}
    if rng.random() < 0.3:
        raw["format"] = rng.choice(["wav", "mp3", "ogg", "flac", "pcm"])
    if rng.random() < 0.2:
        raw["sample_rate"] = rng.choice([8000, 16000, 22050, 24000, 44100, 48000])
    return raw


def nesting_input(rng: random.Random) -> object:
    """A plausible request with a deeply nested field (or a deeply nested input, or a string of brackets)."""
    if rng.random() < 0.1:
        return nested(rng)
    if rng.random() < 0.1:
        return _plain(rng, rng.choice(["[", "{", "[{", "(("]) * rng.choice([1000, 2500]))
    raw = _plain(rng, "Hi.")
    raw[rng.choice(_FIELDS + ["context", "s3Config", "action"])] = nested(rng)
    return raw


GENERATORS: dict = {
    "mixed": lambda rng: synthesis_input(rng),
    "unicode": lambda rng: _plain(rng, unicode_text(rng)),
    "digits": lambda rng: _plain(rng, digit_text(rng)),
    "numbers": lambda rng: _plain(rng, number_text(rng)),
    "nesting": nesting_input,
}


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
    findings: list = field(default_factory=list)     # (what, generator, input repr, detail)
    slowest_s: float = 0.0
    audio_checked: int = 0                           # audio results checked in both decoders

    def add(self, outcome: str, case: object, detail: str = "", seconds: float = 0.0, generator: str = "") -> None:
        self.outcomes[outcome] += 1
        self.slowest_s = max(self.slowest_s, seconds)
        if outcome.startswith("FINDING"):
            self.findings.append((outcome, generator, show(case), detail[:500]))


def run_requests(service, cases: int, seed: int, budget_s: float, report: Report | None = None,
                 generators: tuple[str, ...] = ("mixed",)) -> Report:
    """`cases` jobs from the named generators in turn. A job past budget_s is a finding; one still running at
    twice that is left behind (it may never end) and the next job gets a fresh service (a fresh door)."""
    report = report or Report()
    rng = random.Random(seed)
    for i in range(cases):
        generator = generators[i % len(generators)]
        raw = GENERATORS[generator](rng)
        out, took = _job(service, raw, f"fuzz-{seed}-{i}", 2 * budget_s)
        if out is None:
            service = _fresh(service)
        _judge(report, raw, out, took, budget_s, generator)
    return report


FAULTS = ("slow headers", "silent bucket", "dripping bucket")


def run_faults(service, rounds: int, budget_s: float, report: Report | None = None,
               kinds: tuple[str, ...] = FAULTS) -> Report:
    """Jobs against loopback stand-ins that misbehave (tools.harness): an audio URL whose server drips its
    headers a byte at a time ("slow headers": upload_voice, for engines that clone voices), and an s3Config
    bucket that never answers or drips its answer. Each must end within budget_s with an error naming its
    field; one still running then is a finding and is left behind (the stand-ins close when this returns, which
    ends it). Each job gets a fresh service, so one left behind holds no other's place in line."""
    report = report or Report()
    keys = {"accessId": "fuzz-id", "accessSecret": "fuzz-secret", "bucketName": "fuzz-bucket"}
    kinds = tuple(k for k in kinds if k != "slow headers" or "cloning" in service.engine.features)
    with (drip_server(every_s=0.5, for_s=4 * budget_s) as slow, silent_server() as silent,
          drip_server(b"HTTP/1.1 200 OK\r\nX-Drip: ", every_s=0.5, for_s=4 * budget_s) as dripping):
        inputs = {"slow headers": {"action": "upload_voice", "name": "fuzz", "audio_url": f"{slow}/slow-headers",
                                   "text": "Hi."},
                  "silent bucket": {"text": "Hi.", "cache": False, "output_mode": "url",
                                    "s3Config": {"endpointUrl": silent, **keys}},
                  "dripping bucket": {"text": "Hi.", "cache": False, "output_mode": "url",
                                      "s3Config": {"endpointUrl": dripping, **keys}}}
        for i in range(rounds):
            for kind in kinds:
                fresh = _fresh(service)
                # Only the stand-ins live on loopback: let this service reach them, and nothing else private.
                fresh.resolver.fetcher = Fetcher(is_allowed=lambda ip: ip in _LOOPBACK or is_public(ip))
                out, took = _job(fresh, inputs[kind], f"fault-{i}-{kind.replace(' ', '-')}", budget_s)
                _judge(report, inputs[kind], out, took, budget_s, kind)
    return report


_LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


def _job(service, raw: object, job_id: str, wait_s: float) -> tuple[dict | None, float]:
    """The job's output and seconds taken; None if it was still running after wait_s (it is left running)."""
    box: dict = {}

    def job() -> None:
        try:
            box["out"] = queue_job(service, raw, job_id=job_id)
        except Exception as e:  # noqa: BLE001 - the door itself failing is a finding, not a fuzzer crash
            box["out"] = {"error": f"internal: the queue door raised {type(e).__name__}: {e}"}

    t = time.perf_counter()
    thread = threading.Thread(target=job, name=f"fuzz-{job_id}", daemon=True)
    thread.start()
    thread.join(wait_s)
    return box.get("out"), time.perf_counter() - t


def _fresh(service):
    """A service like `service` (same engine, cache, settings and voices) with a door of its own."""
    from tts.service import TTSService

    return TTSService(service.engine, service.cache, service.settings, service.library)


def _judge(report: Report, raw: object, out: dict | None, took: float, budget_s: float, generator: str) -> None:
    if out is None or took > budget_s:
        state = "still running" if out is None else "ended"
        report.add("FINDING hang: past its budget", raw, f"{took:.1f} s, {state}; budget {budget_s:g} s", took,
                   generator)
    elif "error" not in out:
        problem = audio_problem(out)
        report.audio_checked += "audio_base64" in out
        report.add("ok" if problem is None else problem.split(":", 1)[0], raw, problem or "", took, generator)
    else:
        report.add(_classify(out["error"]), raw, out["error"], took, generator)


def audio_problem(out: dict) -> str | None:
    """None when the output's audio decodes in libsndfile and in FFmpeg and both tell the length duration_ms
    states, to one codec frame; else a finding saying what is wrong. Bucket results (no audio) pass."""
    if "audio_base64" not in out:
        return None
    data = base64.b64decode(out["audio_base64"])
    fmt, rate, true = out["format"], out["sample_rate"], out["duration_ms"] / 1000
    # One codec frame (an MP3 frame, an Opus frame, else a sample), and duration_ms's rounding.
    frame = {"mp3": (1152 if rate >= 32000 else 576) / rate, "ogg": 0.020}.get(fmt, 1 / rate) + 0.0005
    for decoder, lengths in (("libsndfile", _soundfile_lengths), ("FFmpeg", _ffmpeg_lengths)):
        try:
            reported, decoded = lengths(data, fmt, rate)
        except Exception as e:  # noqa: BLE001 - any decoder failure is what this looks for
            return f"FINDING audio does not decode: {decoder} cannot read the {fmt}: {type(e).__name__}: {e}"
        if abs(reported - true) > frame or abs(decoded - true) > frame:
            return (f"FINDING audio length disagrees: {fmt} at {rate} Hz, {decoder}: {reported:.4f} s reported, "
                    f"{decoded:.4f} s decoded, duration_ms {out['duration_ms']}")
    return None


def _soundfile_lengths(data: bytes, fmt: str, rate: int) -> tuple[float, float]:
    """libsndfile's (length from the headers, length decoded), seconds."""
    raw = {"format": "RAW", "subtype": "PCM_16", "endian": "LITTLE", "samplerate": rate, "channels": 1}
    with sf.SoundFile(io.BytesIO(data), **(raw if fmt == "pcm" else {})) as f:
        return f.frames / f.samplerate, len(f.read(dtype="float32")) / f.samplerate


def _ffmpeg_lengths(data: bytes, fmt: str, rate: int) -> tuple[float, float]:
    """FFmpeg's (length from the headers or the size, length decoded), seconds."""
    import av

    raw = {"format": "s16le", "options": {"sample_rate": str(rate), "ch_layout": "mono"}}
    with av.open(io.BytesIO(data), **(raw if fmt == "pcm" else {})) as container:
        stream = container.streams.audio[0]
        decoded = sum(frame.samples for frame in container.decode(stream))
        return container.duration / av.time_base, decoded / stream.rate


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
