"""Untrusted job input -> a validated, frozen request. The one place that knows field names.

Every problem raises InputError with "<field>: <what is wrong; what is allowed>"."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from tts import audio, text
from tts.engines.base import Engine
from tts.errors import InputError

SYNTH_FIELDS = ("text", "voice", "speaker", "format", "sample_rate", "speed", "seed", "cache", "language",
                "max_audio_length_ms")
# Names other TTS workers' clients send, mapped onto ours.
ALIASES = {"speaker_id": "speaker", "local_voice": "voice", "response_format": "format"}
ACTIONS = ("health", "list_voices")
ACTION_KEYS = ("action", "endpoint")
FORMAT_ALIASES = {"opus": "ogg", "mpeg": "mp3", "wave": "wav"}
LANGUAGE_NAMES = {"english": "en"}
SPEED_RANGE = (0.5, 2.0)
DEFAULT_SEED = 0                    # a null seed still gives cacheable, repeatable audio
MAX_SEED = 2**63 - 1
AUDIO_LENGTH_RANGE = (100, 600_000)  # ms


@dataclass(frozen=True)
class SynthesisRequest:
    text: str                       # normalized
    voice: str | None
    speaker: int
    format: str
    sample_rate: int
    speed: float
    seed: int
    language: str
    max_audio_length_ms: int | None
    cache: bool


@dataclass(frozen=True)
class ActionRequest:
    action: str


def _allowed() -> str:
    return ", ".join((*SYNTH_FIELDS, *ALIASES))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(field: str, value: Any, lo: int, hi: int) -> int:
    # 24000.0 from a JavaScript client is a whole number; 24000.5 is not.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not _is_int(value) or not lo <= value <= hi:
        raise InputError(field, f"must be a whole number from {lo} to {hi}; got {value!r}")
    return value


def _number(field: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not lo <= value <= hi:
        raise InputError(field, f"must be a number from {lo} to {hi}; got {value!r}")
    return float(value)


def _string(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InputError(field, f"must be a string; got {type(value).__name__}")
    return value


def _merge_aliases(raw: dict) -> dict:
    merged = {}
    for key, value in raw.items():
        name = ALIASES.get(key, key)
        if name in merged and merged[name] != value:
            raise InputError(key, f"conflicts with {name!r}; send only one of them")
        merged[name] = value
    return merged


def parse(raw: Any, engine: Engine, max_text_chars: int) -> SynthesisRequest | ActionRequest:
    if not isinstance(raw, dict):
        raise InputError("input", f"must be a JSON object like {{\"text\": \"Hello\"}}; got {type(raw).__name__}")
    action_keys = [k for k in ACTION_KEYS if k in raw]
    if action_keys:
        return _parse_action(raw, action_keys)
    data = _merge_aliases(raw)
    unknown = sorted(k for k in data if k not in SYNTH_FIELDS)
    if unknown:
        raise InputError(unknown[0], f"unknown field; allowed fields: {_allowed()}, or action ({', '.join(ACTIONS)})")
    return SynthesisRequest(
        text=_text(data, max_text_chars),
        voice=_voice(data, engine),
        speaker=_speaker(data, engine),
        **_format_and_rate(data, engine),
        speed=_number("speed", data["speed"], *SPEED_RANGE) if data.get("speed") is not None else 1.0,
        seed=DEFAULT_SEED if data.get("seed") is None else _int("seed", data["seed"], 0, MAX_SEED),
        language=_language(data, engine),
        max_audio_length_ms=None if data.get("max_audio_length_ms") is None
        else _int("max_audio_length_ms", data["max_audio_length_ms"], *AUDIO_LENGTH_RANGE),
        cache=_cache(data),
    )


def _parse_action(raw: dict, keys: list[str]) -> ActionRequest:
    if len(keys) > 1 and raw["action"] != raw["endpoint"]:
        raise InputError("action", "given twice (action and endpoint) with different values; send one")
    value = raw[keys[0]]
    if value not in ACTIONS:
        raise InputError(keys[0], f"unknown action {value!r}; allowed: {', '.join(ACTIONS)}")
    extra = sorted(k for k in raw if k not in ACTION_KEYS)
    if extra:
        raise InputError(extra[0], f"not allowed with action {value!r}; send only {{\"action\": \"{value}\"}}")
    return ActionRequest(value)


def _text(data: dict, max_chars: int) -> str:
    if "text" not in data or data["text"] is None:
        raise InputError("text", "required: the text to speak, a non-empty string")
    value = text.normalize(_string("text", data["text"]))
    if not value:
        raise InputError("text", "is empty after whitespace is collapsed; send something to speak")
    if len(value) > max_chars:
        raise InputError("text", f"{len(value)} characters is over the limit of {max_chars} (MAX_TEXT_CHARS); "
                                 "split it into several requests")
    return value


def _voice(data: dict, engine: Engine) -> str | None:
    value = data.get("voice")
    if value is None:
        return engine.default_voice
    value = _string("voice", value).strip()
    voices = {v.name: v for v in engine.voices()}
    installed = ", ".join(v.name for v in voices.values() if v.installed) or "none"
    if value not in voices:
        raise InputError("voice", f"unknown voice {value!r} for the {engine.name} engine; installed: {installed}")
    if not voices[value].installed:
        raise InputError("voice", f"{value!r} is not installed in this worker (voices are never downloaded at "
                                  f"request time; bake them into the image); installed: {installed}")
    return value


def _speaker(data: dict, engine: Engine) -> int:
    value = data.get("speaker")
    if value is None:
        return engine.speakers[0]
    speakers = engine.speakers
    if len(speakers) == 1:
        if not (_is_int(value) and value == speakers[0]):
            raise InputError("speaker", f"the {engine.name} engine has one speaker per voice ({speakers[0]}); "
                                        f"pick a different voice instead; got {value!r}")
        return speakers[0]
    return _int("speaker", value, speakers[0], speakers[-1])


def _format_and_rate(data: dict, engine: Engine) -> dict:
    fmt = data.get("format")
    if fmt is None:
        fmt = "wav"
    else:
        fmt = _string("format", fmt).strip().lower()
        fmt = FORMAT_ALIASES.get(fmt, fmt)
        if fmt not in audio.FORMATS:
            raise InputError("format", f"unsupported format {data['format']!r}; allowed: {', '.join(audio.FORMATS)}")
    rates = audio.FORMATS[fmt].rates
    rate = data.get("sample_rate")
    if rate is None:
        # The native rate, or the closest rate the codec can take.
        rate = engine.sample_rate if not rates or engine.sample_rate in rates \
            else min(rates, key=lambda r: abs(r - engine.sample_rate))
    else:
        rate = _int("sample_rate", rate, audio.MIN_SAMPLE_RATE, audio.MAX_SAMPLE_RATE)
        if rates and rate not in rates:
            raise InputError("sample_rate", f"{rate} Hz cannot be encoded as {fmt}; "
                                            f"{fmt} allows {', '.join(map(str, rates))}")
    return {"format": fmt, "sample_rate": rate}


def _language(data: dict, engine: Engine) -> str:
    value = data.get("language")
    if value is None:
        return engine.languages[0]
    raw = _string("language", value).strip().lower()
    primary = LANGUAGE_NAMES.get(raw, raw.replace("_", "-").split("-")[0])
    if primary not in engine.languages:
        raise InputError("language", f"{value!r} is not supported by the {engine.name} engine; "
                                     f"supported: {', '.join(engine.languages)} (e.g. \"en\", \"en-US\")")
    return primary


def _cache(data: dict) -> bool:
    value = data.get("cache", True)
    if not isinstance(value, bool):
        raise InputError("cache", f"must be true or false; got {value!r}")
    return value
