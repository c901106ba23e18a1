"""Other TTS APIs' ways of naming an output format, read into the worker's own, so that a client of one of them can
switch to this worker by changing its base URL:

    OpenAI      response_format: "mp3" | "opus" | "aac" | "flac" | "wav" | "pcm" (raw 16-bit at 24 kHz)
    ElevenLabs  output_format: "<codec>_<rate>[_<kbit/s>]", e.g. "mp3_44100_128", "pcm_16000", "ulaw_8000",
                "opus_48000_64"
    Deepgram    encoding: linear16 | mulaw | alaw | mp3 | opus | flac | aac, with container: wav | ogg | none,
                sample_rate (Hz) and bit_rate (bit/s)
    Cartesia    output_format: {"container": "raw" | "wav" | "mp3", "encoding": "pcm_s16le" | "pcm_mulaw" |
                "pcm_alaw", "sample_rate": Hz, "bit_rate": bit/s}

Pure: no I/O, no engine. The request schema calls in_own_terms() (resolve(), and the fields replaced) before its
own checks."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from tts.errors import show
from tts.formats import DEFAULT, FORMATS, Codec, find, get

# The request fields resolve() reads that are not the worker's own: the schema drops them once read.
FIELDS = ("response_format", "output_format", "encoding", "container", "bit_rate")

OPENAI_PCM_RATE = 24000    # OpenAI's "pcm" is raw 16-bit at 24 kHz; a request naming no rate gets it
DEEPGRAM_LINEAR16_RATE = 24000   # Deepgram's default for raw linear16 (its mulaw and alaw default to 8 kHz, ours)


class Choice(NamedTuple):
    """What a request's format fields come to, in the worker's terms."""
    format: str                  # a name in FORMATS
    sample_rate: int | None      # None: the request names none (the codec's default rate applies)
    bitrate_kbps: int | None     # None: the codec's default at the rate


class DialectError(ValueError):
    """A format field that cannot be read, or two that contradict each other: `field` is the request field to
    change (both are named in the message when two disagree)."""

    def __init__(self, field: str, message: str):
        self.field, self.message = field, message
        super().__init__(f"{field}: {message}")


def in_own_terms(raw: Mapping[str, Any], native_rate: int) -> dict[str, Any]:
    """The request's raw input in the worker's own terms: the vendors' fields (FIELDS) read by resolve() and
    replaced by what they come to (`format`, and `sample_rate` and `bitrate_kbps` where they give one). What the
    request schema calls before its own checks; raises DialectError as resolve() does."""
    choice = resolve(raw, native_rate)
    own = {key: value for key, value in raw.items() if key not in FIELDS}
    if choice is not None:
        own.update((key, value) for key, value in choice._asdict().items() if value is not None)
    return own


def resolve(raw: Mapping[str, Any], native_rate: int) -> Choice | None:
    """The worker's (format, sample_rate, bitrate_kbps) for a request's raw input, or None when it gives none of
    the vendors' fields (FIELDS) a value: the request is then the worker's own, checked by the schema as it is.

    Reads the vendors' fields and the worker's own `format`, `sample_rate` (also Deepgram's) and `bitrate_kbps`,
    which may be sent beside them if they agree. `native_rate` is the engine's: the rate a request naming none
    gets (Codec.default_rate), against which a bitrate is checked. Everything a vendor field implies is checked
    against the codec (rates, bitrates), so that an error names the field the client sent.

    Raises DialectError naming the field and what it allows, or both fields when two say different things (an
    ElevenLabs "mp3_44100_128" with sample_rate 16000, Deepgram's encoding "mulaw" with format "wav").

    The schema's part, before it validates: drop FIELDS from the input and set the Choice's fields that are not
    None (format always; sample_rate and bitrate_kbps when given): in_own_terms() does both."""
    if all(raw.get(key) is None for key in FIELDS):
        return None
    # Vendors' first: a contradiction is reported on the vendor's field (an OpenAI client's error names its param).
    claims = [*_openai(raw), *_elevenlabs_or_cartesia(raw), *_deepgram(raw), *_own(raw)]
    codec_claim = _agree(claims, "codec", "format")
    rate_claim = _agree(claims, "rate", "sample rate")
    kbps_claim = _agree(claims, "kbps", "bitrate")
    codec = codec_claim.codec if codec_claim else get(DEFAULT)
    rate = rate_claim.rate if rate_claim else next((c.default_rate for c in claims if c.default_rate), None)
    if rate is not None and not codec.allows(rate):
        where = rate_claim or next(c for c in claims if c.default_rate)
        raise DialectError(where.field, f"{rate} Hz cannot be encoded as {codec.name}{_from(codec_claim, where)}; "
                                        f"{codec.name} takes {_rates(codec)}")
    if kbps_claim is not None:
        _check_kbps(codec, rate if rate is not None else codec.default_rate(native_rate), kbps_claim, codec_claim)
    return Choice(codec.name, rate, kbps_claim.kbps if kbps_claim else None)


@dataclass(frozen=True)
class _Claim:
    """What one field says (or, for a vendor's default, only suggests: default_rate)."""
    field: str
    value: Any
    codec: Codec | None = None
    rate: int | None = None
    kbps: int | None = None
    default_rate: int | None = None


def _agree(claims: list[_Claim], attr: str, what: str) -> _Claim | None:
    said = [c for c in claims if getattr(c, attr) is not None]
    for other in said[1:]:
        if getattr(other, attr) != getattr(said[0], attr):
            first = said[0]
            raise DialectError(first.field, f"{first.field} {show(first.value)} and {other.field} "
                                            f"{show(other.value)} ask for different {what}s "
                                            f"({_say(first, attr)} and {_say(other, attr)}); send one of them, "
                                            "or both the same")
    return said[0] if said else None


def _say(claim: _Claim, attr: str) -> str:
    value = getattr(claim, attr)
    return value.name if attr == "codec" else f"{value} Hz" if attr == "rate" else f"{value} kbit/s"


def _from(codec_claim: _Claim | None, where: _Claim) -> str:
    return "" if codec_claim is None or codec_claim.field == where.field \
        else f" (from {codec_claim.field} {show(codec_claim.value)})"


def _rates(codec: Codec) -> str:
    return ", ".join(map(str, codec.rates)) + " Hz" if codec.rates else "8000 to 48000 Hz"


def _check_kbps(codec: Codec, rate: int, claim: _Claim, codec_claim: _Claim | None) -> None:
    allowed = codec.bitrates(rate)
    if allowed is None:
        settable = ", ".join(c.name for c in FORMATS.values() if c.kbps)
        raise DialectError(claim.field, f"{codec.name}{_from(codec_claim, claim)} has no bitrate setting; "
                                        f"a bitrate applies to {settable}")
    if claim.kbps not in allowed:
        if claim.field.endswith("bit_rate"):   # the vendors' bit/s
            takes = ", ".join(f"{k}000" for k in allowed.steps) if allowed.steps \
                else f"{allowed.low}000 to {allowed.high}000"
            asked, unit = f"{claim.kbps}000", "bit/s"
        else:
            takes, asked, unit = str(allowed), str(claim.kbps), "kbit/s"
        raise DialectError(claim.field, f"{codec.name}{_from(codec_claim, claim)} at {rate} Hz cannot be encoded "
                                        f"at {asked} {unit}; it takes {takes} {unit}")


# -- each API's fields -------------------------------------------------------------------------------------

def _own(raw: Mapping[str, Any]) -> list[_Claim]:
    claims = []
    if raw.get("format") is not None:
        claims.append(_Claim("format", raw["format"], codec=_named("format", raw["format"])))
    if raw.get("sample_rate") is not None:
        claims.append(_Claim("sample_rate", raw["sample_rate"], rate=_whole("sample_rate", raw["sample_rate"])))
    if raw.get("bitrate_kbps") is not None:
        claims.append(_Claim("bitrate_kbps", raw["bitrate_kbps"], kbps=_whole("bitrate_kbps", raw["bitrate_kbps"])))
    return claims


def _openai(raw: Mapping[str, Any]) -> list[_Claim]:
    value = raw.get("response_format")
    if value is None:
        return []
    codec = _named("response_format", value)
    return [_Claim("response_format", value, codec=codec,
                   default_rate=OPENAI_PCM_RATE if codec.name == "pcm" else None)]


_ELEVENLABS = {"mp3": "mp3", "opus": "ogg", "pcm": "pcm", "ulaw": "mulaw", "alaw": "alaw"}
_ELEVENLABS_NAME = re.compile(r"([a-z0-9]+)_(\d{1,6})(?:_(\d{1,4}))?")
_ELEVENLABS_HINT = ("allowed: mp3_<rate>_<kbit/s> (e.g. mp3_44100_128), opus_<rate>_<kbit/s> (e.g. opus_48000_64), "
                    "pcm_<rate> (e.g. pcm_24000), ulaw_8000, alaw_8000")


def _elevenlabs_or_cartesia(raw: Mapping[str, Any]) -> list[_Claim]:
    value = raw.get("output_format")
    if value is None:
        return []
    if isinstance(value, Mapping):
        return _cartesia(value)
    if not isinstance(value, str):
        raise DialectError("output_format", "must be an ElevenLabs name like \"mp3_44100_128\" or a Cartesia object "
                                            f"like {{\"container\": \"raw\", \"encoding\": \"pcm_s16le\", "
                                            f"\"sample_rate\": 24000}}; got {type(value).__name__}")
    match = _ELEVENLABS_NAME.fullmatch(value.strip().lower())
    codec = match and _ELEVENLABS.get(match[1])
    if not codec or (match[3] is None) != (codec in ("pcm", "mulaw", "alaw")):
        raise DialectError("output_format", f"unknown ElevenLabs output_format {show(value)}; {_ELEVENLABS_HINT}")
    return [_Claim("output_format", value, codec=get(codec), rate=int(match[2]),
                   kbps=None if match[3] is None else int(match[3]))]


_CARTESIA_KEYS = ("container", "encoding", "sample_rate", "bit_rate")
_CARTESIA = {("raw", "pcm_s16le"): "pcm", ("raw", "pcm_mulaw"): "mulaw", ("raw", "pcm_alaw"): "alaw",
             ("wav", "pcm_s16le"): "wav", ("wav", "pcm_mulaw"): "wav_mulaw", ("wav", "pcm_alaw"): "wav_alaw",
             ("wav", None): "wav", ("mp3", None): "mp3"}
_CARTESIA_ENCODINGS = ("pcm_s16le", "pcm_mulaw", "pcm_alaw")


def _cartesia(value: Mapping[str, Any]) -> list[_Claim]:
    for key in value:
        if key not in _CARTESIA_KEYS:
            raise DialectError(f"output_format.{_key(key)}",
                               f"unknown field; a Cartesia output_format takes {', '.join(_CARTESIA_KEYS)}")
    container = _lower("output_format.container", value.get("container"))
    encoding = _lower("output_format.encoding", value.get("encoding"))
    if container not in ("raw", "wav", "mp3"):
        raise DialectError("output_format.container", f"must be raw, wav or mp3; got {show(value.get('container'))}")
    if encoding == "pcm_f32le":
        raise DialectError("output_format.encoding", "pcm_f32le is not available: this worker writes 16-bit "
                                                     "samples; use pcm_s16le (or pcm_mulaw, pcm_alaw)")
    if encoding is not None and encoding not in _CARTESIA_ENCODINGS:
        raise DialectError("output_format.encoding", f"must be one of {', '.join(_CARTESIA_ENCODINGS)}; "
                                                     f"got {show(value.get('encoding'))}")
    # mp3 has its own encoding: one sent beside it (as some clients always do) says nothing more.
    name = _CARTESIA.get((container, None if container == "mp3" else encoding))
    if name is None:
        raise DialectError("output_format.encoding", f"required with container {container}: "
                                                     f"{', '.join(_CARTESIA_ENCODINGS)}")
    claims = [_Claim("output_format", dict(value), codec=get(name))]
    if value.get("sample_rate") is not None:
        claims.append(_Claim("output_format.sample_rate", value["sample_rate"],
                             rate=_whole("output_format.sample_rate", value["sample_rate"])))
    if value.get("bit_rate") is not None:
        claims.append(_Claim("output_format.bit_rate", value["bit_rate"],
                             kbps=_kbps("output_format.bit_rate", value["bit_rate"])))
    return claims


# Deepgram: encoding -> {container: format}; the first container is the default (wav for the PCM encodings,
# as Deepgram's REST API answers; "none" is raw bytes).
_DEEPGRAM = {"linear16": {"wav": "wav", "none": "pcm"}, "mulaw": {"wav": "wav_mulaw", "none": "mulaw"},
             "alaw": {"wav": "wav_alaw", "none": "alaw"}, "mp3": {"none": "mp3"}, "opus": {"ogg": "ogg"},
             "flac": {"none": "flac"}, "aac": {"none": "aac"}}


def _deepgram(raw: Mapping[str, Any]) -> list[_Claim]:
    claims = []
    encoding, container = raw.get("encoding"), raw.get("container")
    if encoding is not None:
        name = _lower("encoding", encoding)
        if name not in _DEEPGRAM:
            raise DialectError("encoding", f"unknown encoding {show(encoding)}; allowed: {', '.join(_DEEPGRAM)}")
        containers = _DEEPGRAM[name]
        box = next(iter(containers)) if container is None else _lower("container", container)
        if box not in containers:
            raise DialectError("container", f"{show(container)} cannot hold encoding {name}; it takes container "
                                            f"{' or '.join(containers)}")
        fmt = containers[box]
        claims.append(_Claim("encoding", encoding, codec=get(fmt),
                             default_rate=DEEPGRAM_LINEAR16_RATE if fmt == "pcm" else None))
    elif container is not None:
        raise DialectError("container", "goes with encoding (Deepgram's); send encoding too, or use format alone")
    if raw.get("bit_rate") is not None:
        claims.append(_Claim("bit_rate", raw["bit_rate"], kbps=_kbps("bit_rate", raw["bit_rate"])))
    return claims


# -- values ------------------------------------------------------------------------------------------------

def _named(field: str, value: Any) -> Codec:
    codec = find(value.strip().lower()) if isinstance(value, str) else None
    if codec is None:
        raise DialectError(field, f"unsupported format {show(value)}; allowed: {', '.join(FORMATS)}")
    return codec


def _lower(field: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise DialectError(field, f"must be a string; got {type(value).__name__}")
    return value.strip().lower()


def _whole(field: str, value: Any) -> int:
    if isinstance(value, float) and value.is_integer():   # 24000.0 from a JavaScript client
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise DialectError(field, f"must be a positive whole number; got {show(value)}")
    return value


def _kbps(field: str, value: Any) -> int:
    """A vendor's bit_rate, in bit/s, as whole kbit/s."""
    bps = _whole(field, value)
    if bps % 1000:
        raise DialectError(field, f"is in bit/s, and this worker takes whole kbit/s: send a multiple of 1000 "
                                  f"(e.g. 64000); got {show(value)}")
    return bps // 1000


def _key(key: Any) -> str:
    return key if isinstance(key, str) and key.isidentifier() else show(key)
