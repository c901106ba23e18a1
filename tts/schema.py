"""The request schema, as data: one pydantic model per request kind, and `parse`, which turns untrusted job
input into a frozen request. Pure: it needs the engine's capabilities, never the engine, disk or network.

Every problem becomes one InputError, `"<field>: <what is wrong; what is allowed>"`. Checks that depend on
the engine (speakers, languages, voices, features) read the Capabilities passed as validation context."""
from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from tts import formats
from tts import text as text_rules
from tts.engines.base import Capabilities
from tts.errors import MAX_MESSAGE_CHARS, InputError, printable, show
from tts.formats import dialects
from tts.request import ActionRequest, AudioSource, SynthesisRequest, TurnSource
from tts.text import frontend, lexicon
from tts.timestamps.subtitles import FORMATS as SUBTITLE_FORMATS
from tts.upload import Bucket
from tts.voices import NAME_RE

LANGUAGE_NAMES = {"english": "en"}
FEATURE_NAMES = {"context": "conversation context", "cloning": "voice cloning", "sampling": "sampling settings",
                 "phonemes": "IPA pronunciations"}
MAX_SEED = 2**63 - 1
MAX_CONTEXT_TURNS = 16
MAX_REFERENCE_TEXT = 1000
ACTION_KEYS = ("action", "endpoint")
ACTION_ALIASES = {"upload": "upload_voice"}   # the F5-TTS workers' name
CLONING_ACTIONS = ("upload_voice", "delete_voice")
_MAX_SUGGESTED_KEY = 64   # longer unknown keys get no suggestion (difflib's cost grows with the length)


# -- validation context and errors ----------------------------------------------------------------

def _fail(message: str, field: str | None = None) -> PydanticCustomError:
    """A validation error carrying our message; `field` names it when raised above field level. Both are made
    printable here: pydantic cannot even render an error holding a lone surrogate from a hostile field name."""
    return PydanticCustomError("tts", "{message}", {"message": printable(message, MAX_MESSAGE_CHARS),
                                                    "field": None if field is None else printable(field)})


def _caps(info: ValidationInfo) -> Capabilities:
    return info.context["caps"]


_show = show


# -- value checks (each one a BeforeValidator: it sees the raw JSON value) ---------------------------

def _whole(lo: int, hi: int, default: int | None = None) -> BeforeValidator:
    def check(value: Any) -> int | None:
        if value is None:
            return default
        if isinstance(value, float) and value.is_integer():  # 24000.0 from a JavaScript client
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise _fail(f"must be a whole number from {lo} to {hi}; got {_show(value)}")
        return value
    return BeforeValidator(check)


def _number(lo: float, hi: float, default: float | None = None) -> BeforeValidator:
    def check(value: Any) -> float | None:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or (isinstance(value, float) and not math.isfinite(value)) or not lo <= value <= hi:
            raise _fail(f"must be a number from {lo} to {hi}; got {_show(value)}")
        return float(value)
    return BeforeValidator(check)


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise _fail(f"must be a string; got {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:  # JSON allows lone surrogates ("\ud800"); text cannot hold them
        raise _fail(f"is not valid Unicode text: a lone surrogate ({show(value[e.start])}) at character "
                    f"{e.start}") from None
    return value


def _flag(default: bool) -> BeforeValidator:
    def check(value: Any) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            raise _fail(f"must be true or false; got {_show(value)}")
        return value
    return BeforeValidator(check)


def _one_of(allowed: tuple[str, ...], default: str) -> BeforeValidator:
    def check(value: Any) -> str:
        if value is None:
            return default
        if value not in allowed:
            raise _fail(f"must be one of {', '.join(allowed)}; got {_show(value)}")
        return value
    return BeforeValidator(check)


def _needs(feature: str, then: Callable[[Any], Any] | None = None) -> BeforeValidator:
    """The field is allowed only when the engine has `feature`; `then` checks the value."""
    def check(value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return None
        caps = _caps(info)
        if feature not in caps.features:
            raise _fail(f"the {caps.engine} engine does not support {FEATURE_NAMES[feature]}; remove the field "
                        "or deploy an engine that does (TTS_ENGINE=csm)")
        return then(value) if then else value
    return BeforeValidator(check)


def _audio_base64(value: Any) -> str:
    if not isinstance(value, str) or not value or not value.isascii():
        raise _fail("must be a non-empty base64 string of an audio file (WAV, FLAC, OGG or MP3)")
    return value


def _transcript(value: Any) -> str:
    if value is None:
        raise _fail("required: the transcript of the reference audio (it conditions the voice)")
    value = text_rules.clean(_string(value))
    if not 1 <= len(value) <= MAX_REFERENCE_TEXT:
        raise _fail(f"must be 1 to {MAX_REFERENCE_TEXT} characters; got {len(value)}")
    return value


def _text(value: Any, info: ValidationInfo) -> str:
    if value is None:
        raise _fail("required: the text to speak, a non-empty string")
    value = text_rules.clean(_string(value))
    if not value:
        raise _fail("is empty after whitespace is collapsed; send something to speak")
    limit = info.context["max_text_chars"]
    if len(value) > limit:
        raise _fail(f"{len(value)} characters is over the limit of {limit} (MAX_TEXT_CHARS); "
                    "split it into several requests")
    return value


def _speaker(value: Any, info: ValidationInfo) -> int:
    speakers = _caps(info).speakers
    if value is None:
        return speakers[0]
    if len(speakers) == 1:
        if isinstance(value, bool) or value != speakers[0]:
            raise _fail(f"the {_caps(info).engine} engine has one speaker per voice ({speakers[0]}); "
                        f"pick a different voice instead; got {_show(value)}")
        return speakers[0]
    return _whole(speakers[0], speakers[-1]).func(value)


def _voice(value: Any, info: ValidationInfo) -> str | None:
    if value is None:
        return None
    name = _string(value).strip()
    caps = _caps(info)
    builtin = {v.name: v for v in caps.voices}
    if name in builtin:
        if not builtin[name].installed:
            raise _fail(f"{name!r} is not installed in this worker (voices are never downloaded at request time; "
                        f"bake them into the image); installed: {', '.join(installed_voices(caps))}")
        return name
    if "cloning" in caps.features:
        return name  # a stored voice: the service looks it up in the voice library
    raise _fail(f"unknown voice {_show(name)} for the {caps.engine} engine; "
                f"installed: {', '.join(installed_voices(caps)) or 'none'}")


def _format(value: Any) -> str:
    if value is None:
        return formats.DEFAULT
    codec = formats.find(_string(value).strip().lower())
    if codec is None:
        raise _fail(f"unsupported format {_show(value)}; allowed: {', '.join(formats.FORMATS)}")
    return codec.name


def _language(value: Any, info: ValidationInfo) -> str:
    caps = _caps(info)
    if value is None:
        return caps.languages[0]
    raw = _string(value).strip().lower()
    primary = LANGUAGE_NAMES.get(raw, raw.replace("_", "-").split("-")[0])
    if primary not in caps.languages:
        raise _fail(f"{_show(value)} is not supported by the {caps.engine} engine; "
                    f"supported: {', '.join(caps.languages)} (e.g. \"en\", \"en-US\")")
    return primary


def _context(value: Any) -> Any:
    if not isinstance(value, list) or len(value) > MAX_CONTEXT_TURNS:
        raise _fail(f"must be a list of at most {MAX_CONTEXT_TURNS} turns "
                    '{"text", "speaker", "audio_base64"}, oldest first')
    return value


def _nonempty(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail("required: a non-empty string")
    return _string(value)


def _optional(check: Callable[[Any], Any]) -> BeforeValidator:
    return BeforeValidator(lambda value: None if value is None else check(value))


def _turn_text(value: Any) -> str:
    value = "" if value is None else text_rules.clean(_string(value))
    if not value:
        raise _fail("required: what was said in this turn")
    return value


def _pronunciations(value: Any) -> dict:
    try:
        return lexicon.check(value, "pronunciations")
    except ValueError as e:
        raise _fail(str(e)) from None


def _lexicon_entries(value: Any) -> dict:
    if value is None:
        raise _fail('required: the pronunciations, e.g. {"Nginx": "engine x", "tomato": "/təˈmeɪtoʊ/"}')
    return _pronunciations(value)


def _lexicon_name(value: Any) -> str:
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise _fail(f"must name a stored lexicon: 1-64 letters, digits, '-' or '_'; got {_show(value)}")
    return value


def _voice_name(value: Any) -> str:
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise _fail(f"must be 1-64 letters, digits, '-' or '_', starting with a letter or digit; got {_show(value)}")
    return value


def _url(value: Any) -> str:
    if not isinstance(value, str):
        raise _fail("must be an http(s) URL string")
    return _string(value)


def installed_voices(caps: Capabilities) -> list[str]:
    return [v.name for v in caps.voices if v.installed]


# -- the models ----------------------------------------------------------------------------------------

def _schema_required(schema: dict, cls: type) -> None:
    if cls.REQUIRED:  # fields that default to None only so that their absence gets our message
        schema["required"] = list(cls.REQUIRED)


class _Model(BaseModel):
    """Unknown fields are refused naming the allowed ones, and the closest one when it is close (a misspelling);
    aliases are folded onto their fields first."""
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_schema_required)
    ALIASES: ClassVar[dict[str, str]] = {}
    REQUIRED: ClassVar[tuple[str, ...]] = ()
    SHAPE: ClassVar[str] = "an object"
    OTHER_KEYS: ClassVar[tuple[str, ...]] = ()   # keys allowed beside the fields, worth suggesting too

    @classmethod
    def unknown_field(cls, name: str) -> str:
        return f"unknown field; allowed fields: {', '.join((*cls.model_fields, *cls.ALIASES))}"

    @classmethod
    def near_field(cls, name: Any) -> str | None:
        """The allowed key a misspelled one is closest to, if one is close (any case)."""
        if not isinstance(name, str) or len(name) > _MAX_SUGGESTED_KEY:
            return None
        keys = {k.lower(): k for k in (*cls.model_fields, *cls.ALIASES, *cls.OTHER_KEYS)}
        near = difflib.get_close_matches(name.lower(), keys, n=1, cutoff=0.6)
        return keys[near[0]] if near else None

    @model_validator(mode="before")
    @classmethod
    def _fold_aliases(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise _fail(f"must be {cls.SHAPE}")
        merged: dict = {}
        for key, value in data.items():
            name = cls.ALIASES.get(key, key)
            if name in merged and merged[name] != value:
                raise _fail(f"conflicts with {name!r}; send only one of them", key)
            merged[name] = value
        unknown = sorted(k for k in merged if k not in cls.model_fields)
        if unknown:
            near = cls.near_field(unknown[0])
            raise _fail(cls.unknown_field(unknown[0]) + (f"; did you mean {near!r}?" if near else ""), unknown[0])
        return merged


class S3Config(_Model):
    """A bucket for this request only (RunPod's s3Config convention)."""
    SHAPE: ClassVar[str] = "an object with endpointUrl, accessId, accessSecret, bucketName"
    REQUIRED: ClassVar[tuple[str, ...]] = ("endpointUrl", "accessId", "accessSecret", "bucketName")

    endpointUrl: Annotated[str, BeforeValidator(_nonempty)] = Field(None, validate_default=True)
    accessId: Annotated[str, BeforeValidator(_nonempty)] = Field(None, validate_default=True)
    accessSecret: Annotated[str, BeforeValidator(_nonempty)] = Field(None, validate_default=True, repr=False)
    bucketName: Annotated[str, BeforeValidator(_nonempty)] = Field(None, validate_default=True)

    @classmethod
    def unknown_field(cls, name: str) -> str:
        return f"unknown field; s3Config takes {', '.join(cls.model_fields)}"

    @model_validator(mode="after")
    def _http_endpoint(self) -> S3Config:
        if not self.endpointUrl.startswith(("http://", "https://")):
            raise _fail("must be an http(s) URL, e.g. https://s3.us-east-1.amazonaws.com", "endpointUrl")
        return self

    def bucket(self) -> Bucket:
        return Bucket(self.endpointUrl, self.accessId, self.accessSecret, self.bucketName)


class ContextTurn(_Model):
    """An earlier turn of the conversation; its audio conditions voice and prosody."""
    SHAPE: ClassVar[str] = 'an object {"text", "speaker", "audio_base64"}'
    REQUIRED: ClassVar[tuple[str, ...]] = ("text",)

    text: Annotated[str, BeforeValidator(_turn_text)] = Field(None, validate_default=True)
    speaker: Annotated[int, BeforeValidator(_speaker)] = Field(None, validate_default=True)
    audio_base64: Annotated[str | None, _optional(_audio_base64)] = None

    @classmethod
    def unknown_field(cls, name: str) -> str:
        return f"unknown field; a turn takes {', '.join(cls.model_fields)}"


class SynthesisInput(_Model):
    """Text to speech: the `input` of a synthesis job."""
    ALIASES: ClassVar[dict[str, str]] = {"speaker_id": "speaker", "local_voice": "voice"}
    REQUIRED: ClassVar[tuple[str, ...]] = ("text",)
    OTHER_KEYS: ClassVar[tuple[str, ...]] = ACTION_KEYS

    text: Annotated[str, BeforeValidator(_text)] = Field(None, validate_default=True)
    voice: Annotated[str | None, BeforeValidator(_voice)] = None
    speaker: Annotated[int, BeforeValidator(_speaker)] = Field(None, validate_default=True)
    format: Annotated[str, BeforeValidator(_format)] = formats.DEFAULT
    sample_rate: Annotated[int | None, _whole(formats.MIN_SAMPLE_RATE, formats.MAX_SAMPLE_RATE)] = None
    bitrate_kbps: Annotated[int | None, _whole(1, 1000)] = None
    speed: Annotated[float, _number(0.5, 2.0, 1.0)] = 1.0
    seed: Annotated[int, _whole(0, MAX_SEED, 0)] = 0          # a null seed still gives cacheable audio
    cache: Annotated[bool, _flag(True)] = True
    language: Annotated[str, BeforeValidator(_language)] = Field(None, validate_default=True)
    max_audio_length_ms: Annotated[int | None, _whole(100, 600_000)] = None
    context: Annotated[list[ContextTurn] | None, _needs("context", _context)] = None
    reference_audio: Annotated[str | None, _needs("cloning", _audio_base64)] = None
    reference_text: Annotated[str | None, _needs("cloning", _transcript)] = None
    temperature: Annotated[float | None, _needs("sampling", _number(0.05, 2.0).func)] = None
    top_k: Annotated[int | None, _needs("sampling", _whole(1, 2048).func)] = None
    output_mode: Annotated[str, _one_of(("base64", "url"), "base64")] = "base64"
    s3Config: S3Config | None = None
    text_type: Annotated[str, _one_of(("text", "ssml"), "text")] = "text"
    normalize: Annotated[bool, _flag(True)] = True
    pronunciations: Annotated[dict | None, _optional(_pronunciations)] = None
    lexicon: Annotated[str | None, _optional(_lexicon_name)] = None
    transliterate: Annotated[bool, _flag(False)] = False
    timestamps: Annotated[bool, _flag(False)] = False
    subtitles: Annotated[str | None, _one_of(SUBTITLE_FORMATS, None)] = None

    @classmethod
    def unknown_field(cls, name: str) -> str:
        return f"{super().unknown_field(name)}, or action ({', '.join(ACTIONS)})"

    @model_validator(mode="after")
    def _together(self, info: ValidationInfo) -> SynthesisInput:
        if self.reference_audio is not None:
            if self.voice is not None:
                raise _fail("send either voice or reference_audio, not both", "voice")
            if self.reference_text is None:
                raise _fail("required: the transcript of the reference audio (it conditions the voice)",
                            "reference_text")
        elif self.reference_text is not None:
            raise _fail("needs reference_audio: it is the transcript of that clip", "reference_text")
        _speakable(self, _caps(info))
        codec = formats.get(self.format)
        if self.sample_rate is not None and not codec.allows(self.sample_rate):
            raise _fail(f"{self.sample_rate} Hz cannot be encoded as {self.format}; "
                        f"{self.format} allows {', '.join(map(str, codec.rates))}", "sample_rate")
        if self.bitrate_kbps is not None:
            rate = self.sample_rate or codec.default_rate(_caps(info).sample_rate)
            allowed = codec.bitrates(rate)
            if allowed is None:
                settable = ", ".join(c.name for c in formats.FORMATS.values() if c.kbps)
                raise _fail(f"{self.format} has no bitrate setting; bitrate_kbps applies to {settable}",
                            "bitrate_kbps")
            if self.bitrate_kbps not in allowed:
                raise _fail(f"{self.format} at {rate} Hz takes {allowed} kbit/s; got {self.bitrate_kbps}",
                            "bitrate_kbps")
        return self


def _speakable(self: SynthesisInput, caps: Capabilities) -> None:
    """What the front end can tell without the stored lexicon: SSML well-formed, IPA only where the engine takes it
    (written forms are read in the service, where a stored lexicon joins the request's pronunciations)."""
    try:
        frontend.prepare(self.text, as_ssml=self.text_type == "ssml", normalize=False,
                         pronunciations=self.pronunciations, phonemes="phonemes" in caps.features,
                         scripts=caps.scripts, transliterate=True)
    except frontend.FrontEndError as e:
        raise _fail(str(e), e.field) from None


class _Action(_Model):
    ACTION: ClassVar[str] = ""

    @classmethod
    def unknown_field(cls, name: str) -> str:
        takes = ", ".join(cls.model_fields) or "no other fields"
        return f"not allowed with action {cls.ACTION!r}; it takes: {takes}"


class HealthAction(_Action):
    """Worker status: engine, model, limits, cache and job counts."""
    ACTION: ClassVar[str] = "health"


class ListVoicesAction(_Action):
    """Built-in and stored voices."""
    ACTION: ClassVar[str] = "list_voices"


class UploadVoiceAction(_Action):
    """Store a reference clip and its transcript under a name, for `voice` in later requests."""
    ACTION: ClassVar[str] = "upload_voice"
    ALIASES: ClassVar[dict[str, str]] = {"voice_name": "name", "voice_file_url": "audio_url", "ref_text": "text",
                                         "reference_text": "text"}
    REQUIRED: ClassVar[tuple[str, ...]] = ("name", "text")

    name: Annotated[str, BeforeValidator(_voice_name)] = Field(None, validate_default=True)
    audio_base64: Annotated[str | None, _optional(_audio_base64)] = None
    audio_url: Annotated[str | None, _optional(_url)] = None
    text: Annotated[str, BeforeValidator(_transcript)] = Field(None, validate_default=True)

    @model_validator(mode="after")
    def _one_source(self) -> UploadVoiceAction:
        if (self.audio_base64 is None) == (self.audio_url is None):
            raise _fail("send exactly one of audio_base64 (the file, base64) or audio_url", "audio_base64")
        return self


class DeleteVoiceAction(_Action):
    """Remove a stored voice."""
    ACTION: ClassVar[str] = "delete_voice"
    REQUIRED: ClassVar[tuple[str, ...]] = ("name",)

    name: Annotated[str, BeforeValidator(_voice_name)] = Field(None, validate_default=True)


class UploadLexiconAction(_Action):
    """Store named pronunciations, for `lexicon` in later requests (every engine)."""
    ACTION: ClassVar[str] = "upload_lexicon"
    REQUIRED: ClassVar[tuple[str, ...]] = ("name", "entries")

    name: Annotated[str, BeforeValidator(_lexicon_name)] = Field(None, validate_default=True)
    entries: Annotated[dict, BeforeValidator(_lexicon_entries)] = Field(None, validate_default=True)


class ListLexiconsAction(_Action):
    """Stored lexicons: name, number of entries, when stored."""
    ACTION: ClassVar[str] = "list_lexicons"


class DeleteLexiconAction(_Action):
    """Remove a stored lexicon."""
    ACTION: ClassVar[str] = "delete_lexicon"
    REQUIRED: ClassVar[tuple[str, ...]] = ("name",)

    name: Annotated[str, BeforeValidator(_lexicon_name)] = Field(None, validate_default=True)


ACTIONS: dict[str, type[_Action]] = {m.ACTION: m for m in (HealthAction, ListVoicesAction, UploadVoiceAction,
                                                            DeleteVoiceAction, UploadLexiconAction,
                                                            ListLexiconsAction, DeleteLexiconAction)}


# -- parse ---------------------------------------------------------------------------------------------

def parse(raw: Any, caps: Capabilities, max_text_chars: int = 5000) -> SynthesisRequest | ActionRequest:
    """Untrusted job input -> a frozen request, or InputError naming the first field that is wrong."""
    if not isinstance(raw, dict):
        raise InputError("input", f"must be a JSON object like {{\"text\": \"Hello\"}}; got {type(raw).__name__}")
    context = {"caps": caps, "max_text_chars": max_text_chars}
    keys = [k for k in ACTION_KEYS if k in raw]
    if keys:
        return _parse_action(raw, keys, caps, context)
    try:
        raw = dialects.in_own_terms(raw, caps.sample_rate)   # other APIs' format names (response_format, ...)
    except dialects.DialectError as e:
        raise InputError(e.field, e.message) from None
    return _synthesis(_validate(SynthesisInput, raw, context), caps)


def _parse_action(raw: dict, keys: list[str], caps: Capabilities, context: dict) -> ActionRequest:
    if len(keys) > 1 and raw["action"] != raw["endpoint"]:
        raise InputError("action", "given twice (action and endpoint) with different values; send one")
    key = keys[0]
    name = ACTION_ALIASES.get(raw[key], raw[key]) if isinstance(raw[key], str) else raw[key]
    if not isinstance(name, str) or name not in ACTIONS:
        raise InputError(key, f"unknown action {_show(raw[key])}; allowed: {', '.join(ACTIONS)}")
    if name in CLONING_ACTIONS and "cloning" not in caps.features:
        raise InputError(key, f"{name} needs an engine that clones voices; this worker runs {caps.engine}")
    model = _validate(ACTIONS[name], {k: v for k, v in raw.items() if k not in ACTION_KEYS}, context)
    params = model.model_dump()
    if isinstance(model, UploadVoiceAction):
        params = {"name": model.name, "text": model.text,
                  "audio": AudioSource("audio_base64", base64=model.audio_base64) if model.audio_url is None
                  else AudioSource("audio_url", url=model.audio_url)}
    return ActionRequest(name, params)


def _validate(model: type[_Model], raw: dict, context: dict) -> _Model:
    try:
        return model.model_validate(raw, context=context)
    except ValidationError as e:
        raise _input_error(e) from None


def _input_error(e: ValidationError) -> InputError:
    """The first error, as `<field path>: <message>` (context[0].speaker, s3Config.accessId, ...)."""
    err = e.errors(include_url=False)[0]
    ctx = err.get("ctx") or {}
    loc = [*err["loc"], *([ctx["field"]] if ctx.get("field") else [])]
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or "input"
    return InputError(path, ctx.get("message") or err["msg"])


def _synthesis(m: SynthesisInput, caps: Capabilities) -> SynthesisRequest:
    warnings, context = [], []
    for i, turn in enumerate(m.context or ()):
        if turn.audio_base64 is None:
            warnings.append(f"context[{i}]: has no audio_base64, so it cannot condition the voice and was left out")
        else:
            context.append(TurnSource(turn.text, turn.speaker,
                                      AudioSource(f"context[{i}].audio_base64", base64=turn.audio_base64)))
    reference = None if m.reference_audio is None else \
        TurnSource(m.reference_text, m.speaker, AudioSource("reference_audio", base64=m.reference_audio))
    # The codec's default for the engine's native rate (itself, the closest the codec takes, or a phone format's 8 kHz).
    rate = formats.get(m.format).default_rate(caps.sample_rate) if m.sample_rate is None else m.sample_rate
    builtin = {v.name for v in caps.voices}
    voice = m.voice if m.voice is not None or reference is not None else caps.default_voice
    return SynthesisRequest(
        text=m.text, voice=voice, speaker=m.speaker, format=m.format, sample_rate=rate,
        bitrate_kbps=m.bitrate_kbps, speed=m.speed,
        seed=m.seed, language=m.language, max_audio_length_ms=m.max_audio_length_ms, cache=m.cache,
        context=tuple(context), reference=reference, stored_voice=voice is not None and voice not in builtin,
        temperature=caps.default_temperature if m.temperature is None else m.temperature,
        top_k=caps.default_top_k if m.top_k is None else m.top_k,
        warnings=tuple(warnings), output_mode=m.output_mode,
        bucket=None if m.s3Config is None else m.s3Config.bucket(),
        text_type="ssml" if m.text_type == "ssml" or frontend.ssml.is_ssml(m.text) else "text",
        normalize=m.normalize, pronunciations=tuple((m.pronunciations or {}).items()), lexicon=m.lexicon,
        transliterate=m.transliterate, timestamps=m.timestamps or m.subtitles is not None, subtitles=m.subtitles)
