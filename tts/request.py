"""Untrusted job input -> a validated, frozen request. The one place that knows field names.

Every problem raises InputError with "<field>: <what is wrong; what is allowed>"."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from tts import audio, audio_input, text
from tts.audio_input import AudioClip
from tts.engines.base import Engine
from tts.errors import InputError
from tts.upload import Bucket, bucket_from_request
from tts.voices import VoiceLibrary, check_name

SYNTH_FIELDS = ("text", "voice", "speaker", "format", "sample_rate", "speed", "seed", "cache", "language",
                "max_audio_length_ms", "context", "reference_audio", "reference_text", "temperature", "top_k",
                "output_mode", "s3Config")
# Names other TTS workers' clients send, mapped onto ours.
ALIASES = {"speaker_id": "speaker", "local_voice": "voice", "response_format": "format"}
# Fields an engine must declare a feature for (Engine.features).
FEATURES = {"context": "context", "reference_audio": "cloning", "reference_text": "cloning",
            "temperature": "sampling", "top_k": "sampling"}
FEATURE_NAMES = {"context": "conversation context", "cloning": "voice cloning", "sampling": "sampling settings"}
ACTION_KEYS = ("action", "endpoint")
# Each action's fields. "upload" and the field aliases are the shapes F5-TTS workers' clients send.
ACTIONS = {"health": (), "list_voices": (), "upload_voice": ("name", "audio_base64", "audio_url", "text"),
           "delete_voice": ("name",)}
ACTION_ALIASES = {"upload": "upload_voice"}
ACTION_FIELD_ALIASES = {"voice_name": "name", "voice_file_url": "audio_url", "ref_text": "text",
                        "reference_text": "text"}
FORMAT_ALIASES = {"opus": "ogg", "mpeg": "mp3", "wave": "wav"}
LANGUAGE_NAMES = {"english": "en"}
SPEED_RANGE = (0.5, 2.0)
TEMPERATURE_RANGE = (0.05, 2.0)
TOP_K_RANGE = (1, 2048)
DEFAULT_SEED = 0                    # a null seed still gives cacheable, repeatable audio
MAX_SEED = 2**63 - 1
AUDIO_LENGTH_RANGE = (100, 600_000)  # ms
MAX_CONTEXT_TURNS = 16
CONTEXT_TURN_FIELDS = ("text", "speaker", "audio_base64")
MAX_REFERENCE_TEXT = 1000
OUTPUT_MODES = ("base64", "url")


@dataclass(frozen=True)
class Turn:
    """A conversation turn, or the voice reference, that conditions an engine."""
    text: str
    speaker: int
    audio: AudioClip


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
    context: tuple[Turn, ...] = ()          # turns that carry audio, oldest first
    reference: Turn | None = None           # the voice to clone: reference_audio or a stored voice
    temperature: float | None = None        # None where the engine has no sampling settings
    top_k: int | None = None
    warnings: tuple[str, ...] = ()
    output_mode: str = "base64"             # "url": upload to a bucket and return a presigned URL
    bucket: Bucket | None = None            # from s3Config; None = the endpoint's BUCKET_* settings


@dataclass(frozen=True)
class ActionRequest:
    action: str
    params: dict = field(default_factory=dict)


def parse(raw: Any, engine: Engine, max_text_chars: int,
          library: VoiceLibrary | None = None) -> SynthesisRequest | ActionRequest:
    """`library` holds the stored voices: pass it when the engine clones voices."""
    if not isinstance(raw, dict):
        raise InputError("input", f"must be a JSON object like {{\"text\": \"Hello\"}}; got {type(raw).__name__}")
    action_keys = [k for k in ACTION_KEYS if k in raw]
    if action_keys:
        return _parse_action(raw, action_keys, engine, library)
    data = _merge_aliases(raw, ALIASES)
    unknown = sorted(k for k in data if k not in SYNTH_FIELDS)
    if unknown:
        raise InputError(unknown[0], f"unknown field; allowed fields: {', '.join((*SYNTH_FIELDS, *ALIASES))}, "
                                     f"or action ({', '.join(ACTIONS)})")
    for name, feature in FEATURES.items():
        if data.get(name) is not None and feature not in engine.features:
            raise InputError(name, f"the {engine.name} engine does not support {FEATURE_NAMES[feature]}; "
                                   "remove the field or deploy an engine that does (TTS_ENGINE=csm)")
    sampling = "sampling" in engine.features
    speaker = _speaker(data.get("speaker"), engine, "speaker")
    voice, reference = _voice_and_reference(data, engine, library, speaker)
    warnings: list[str] = []
    return SynthesisRequest(
        text=_text(data, max_text_chars),
        voice=voice,
        speaker=speaker,
        **_format_and_rate(data, engine),
        speed=1.0 if data.get("speed") is None else _number("speed", data["speed"], *SPEED_RANGE),
        seed=DEFAULT_SEED if data.get("seed") is None else _int("seed", data["seed"], 0, MAX_SEED),
        language=_language(data, engine),
        max_audio_length_ms=None if data.get("max_audio_length_ms") is None
        else _int("max_audio_length_ms", data["max_audio_length_ms"], *AUDIO_LENGTH_RANGE),
        cache=_cache(data),
        context=_context(data.get("context"), engine, warnings),
        reference=reference,
        temperature=(engine.default_temperature if sampling else None) if data.get("temperature") is None
        else _number("temperature", data["temperature"], *TEMPERATURE_RANGE),
        top_k=(engine.default_top_k if sampling else None) if data.get("top_k") is None
        else _int("top_k", data["top_k"], *TOP_K_RANGE),
        warnings=tuple(warnings),
        output_mode=_choice("output_mode", data.get("output_mode", "base64"), OUTPUT_MODES),
        bucket=None if data.get("s3Config") is None else bucket_from_request(data["s3Config"]),
    )


# -- scalar checks ---------------------------------------------------------------------------------

def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(name: str, value: Any, lo: int, hi: int) -> int:
    # 24000.0 from a JavaScript client is a whole number; 24000.5 is not.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not _is_int(value) or not lo <= value <= hi:
        raise InputError(name, f"must be a whole number from {lo} to {hi}; got {value!r}")
    return value


def _number(name: str, value: Any, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not lo <= value <= hi:
        raise InputError(name, f"must be a number from {lo} to {hi}; got {value!r}")
    return float(value)


def _string(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InputError(name, f"must be a string; got {type(value).__name__}")
    return value


def _choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InputError(name, f"must be one of {', '.join(allowed)}; got {value!r}")
    return value


def _merge_aliases(raw: dict, aliases: dict) -> dict:
    merged = {}
    for key, value in raw.items():
        name = aliases.get(key, key)
        if name in merged and merged[name] != value:
            raise InputError(key, f"conflicts with {name!r}; send only one of them")
        merged[name] = value
    return merged


# -- actions ---------------------------------------------------------------------------------------

def _parse_action(raw: dict, keys: list[str], engine: Engine, library: VoiceLibrary | None) -> ActionRequest:
    if len(keys) > 1 and raw["action"] != raw["endpoint"]:
        raise InputError("action", "given twice (action and endpoint) with different values; send one")
    key = keys[0]
    action = ACTION_ALIASES.get(raw[key], raw[key]) if isinstance(raw[key], str) else raw[key]
    if action not in ACTIONS:
        raise InputError(key, f"unknown action {raw[key]!r}; allowed: {', '.join(ACTIONS)}")
    data = _merge_aliases({k: v for k, v in raw.items() if k not in ACTION_KEYS}, ACTION_FIELD_ALIASES)
    extra = sorted(k for k in data if k not in ACTIONS[action])
    if extra:
        takes = ", ".join(ACTIONS[action]) or "no other fields"
        raise InputError(extra[0], f"not allowed with action {action!r}; it takes: {takes}")
    if action in ("upload_voice", "delete_voice") and library is None:
        raise InputError(key, f"{action} needs an engine that clones voices; this worker runs {engine.name}")
    params: dict = {}
    if action in ("upload_voice", "delete_voice"):
        params["name"] = check_name("name", data.get("name"))
    if action == "upload_voice":
        params["text"] = _reference_text("text", data.get("text"))
        has_b64, has_url = data.get("audio_base64") is not None, data.get("audio_url") is not None
        if has_b64 == has_url:
            raise InputError("audio_base64", "send exactly one of audio_base64 (the file, base64) or audio_url")
        params["audio"] = audio_input.from_base64("audio_base64", data["audio_base64"], engine.sample_rate) \
            if has_b64 else audio_input.from_url("audio_url", data["audio_url"], engine.sample_rate)
    return ActionRequest(action, params)


# -- synthesis fields ------------------------------------------------------------------------------

def _text(data: dict, max_chars: int) -> str:
    if data.get("text") is None:
        raise InputError("text", "required: the text to speak, a non-empty string")
    value = text.normalize(_string("text", data["text"]))
    if not value:
        raise InputError("text", "is empty after whitespace is collapsed; send something to speak")
    if len(value) > max_chars:
        raise InputError("text", f"{len(value)} characters is over the limit of {max_chars} (MAX_TEXT_CHARS); "
                                 "split it into several requests")
    return value


def _voice_and_reference(data: dict, engine: Engine, library: VoiceLibrary | None,
                         speaker: int) -> tuple[str | None, Turn | None]:
    """The voice name and, for a cloned voice, the reference turn that carries it."""
    name = data.get("voice")
    if data.get("reference_audio") is not None:
        if name is not None:
            raise InputError("voice", "send either voice or reference_audio, not both")
        ref_text = _reference_text("reference_text", data.get("reference_text"))
        clip = audio_input.from_base64("reference_audio", data["reference_audio"], engine.sample_rate)
        return None, Turn(ref_text, speaker, clip)
    if data.get("reference_text") is not None:
        raise InputError("reference_text", "needs reference_audio: it is the transcript of that clip")
    if name is None:
        return engine.default_voice, None
    name = _string("voice", name).strip()
    builtin = {v.name: v for v in engine.voices()}
    if name in builtin and builtin[name].installed:
        return name, None
    stored = library.get(name) if library is not None else None
    if stored is not None:
        clip, transcript = stored
        return name, Turn(transcript, speaker, clip)
    installed = [v.name for v in builtin.values() if v.installed] + (library.names() if library else [])
    if name in builtin:
        raise InputError("voice", f"{name!r} is not installed in this worker (voices are never downloaded at "
                                  f"request time; bake them into the image); installed: {', '.join(installed)}")
    raise InputError("voice", f"unknown voice {name!r} for the {engine.name} engine; "
                              f"installed: {', '.join(installed) or 'none'}")


def _reference_text(name: str, value: Any) -> str:
    if value is None:
        raise InputError(name, "required: the transcript of the reference audio (it conditions the voice)")
    value = text.normalize(_string(name, value))
    if not 1 <= len(value) <= MAX_REFERENCE_TEXT:
        raise InputError(name, f"must be 1 to {MAX_REFERENCE_TEXT} characters; got {len(value)}")
    return value


def _context(value: Any, engine: Engine, warnings: list[str]) -> tuple[Turn, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_CONTEXT_TURNS:
        raise InputError("context", f"must be a list of at most {MAX_CONTEXT_TURNS} turns "
                                    '{"text", "speaker", "audio_base64"}, oldest first')
    turns = []
    for i, turn in enumerate(value):
        where = f"context[{i}]"
        if not isinstance(turn, dict):
            raise InputError(where, 'must be an object {"text", "speaker", "audio_base64"}')
        extra = sorted(k for k in turn if k not in CONTEXT_TURN_FIELDS)
        if extra:
            raise InputError(f"{where}.{extra[0]}", f"unknown field; a turn takes {', '.join(CONTEXT_TURN_FIELDS)}")
        turn_text = text.normalize(_string(f"{where}.text", turn.get("text")))
        if not turn_text:
            raise InputError(f"{where}.text", "required: what was said in this turn")
        speaker = _speaker(turn.get("speaker"), engine, f"{where}.speaker")
        if turn.get("audio_base64") is None:
            warnings.append(f"{where}: has no audio_base64, so it cannot condition the voice and was left out")
            continue
        clip = audio_input.from_base64(f"{where}.audio_base64", turn["audio_base64"], engine.sample_rate)
        turns.append(Turn(turn_text, speaker, clip))
    return tuple(turns)


def _speaker(value: Any, engine: Engine, name: str) -> int:
    speakers = engine.speakers
    if value is None:
        return speakers[0]
    if len(speakers) == 1:
        if not (_is_int(value) and value == speakers[0]):
            raise InputError(name, f"the {engine.name} engine has one speaker per voice ({speakers[0]}); "
                                   f"pick a different voice instead; got {value!r}")
        return speakers[0]
    return _int(name, value, speakers[0], speakers[-1])


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
