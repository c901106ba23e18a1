"""The values a job's input becomes: what `schema.parse` returns (pure data, nothing fetched or decoded yet)
and what the service's resolve step adds (decoded conditioning audio)."""
from __future__ import annotations

from dataclasses import dataclass, field

from tts.audio_input import AudioClip
from tts.upload import Bucket


@dataclass(frozen=True)
class AudioSource:
    """Audio a request points to, not yet fetched or decoded: a base64 file or an http(s) URL."""
    field: str                   # the request field it came from, for error messages
    base64: str | None = None
    url: str | None = None

    def __repr__(self) -> str:   # never print the audio
        return f"AudioSource({self.field!r}, {'url' if self.url is not None else 'base64'})"


@dataclass(frozen=True)
class TurnSource:
    """A conversation turn, or the voice reference, as the request gave it."""
    text: str
    speaker: int
    audio: AudioSource


@dataclass(frozen=True)
class Turn:
    """A conversation turn, or the voice reference, with its audio decoded: what conditions an engine."""
    text: str
    speaker: int
    audio: AudioClip


@dataclass(frozen=True)
class Conditioning:
    """Decoded audio that shapes the voice: a reference to clone and earlier turns, oldest first."""
    reference: Turn | None = None
    context: tuple[Turn, ...] = ()


NO_CONDITIONING = Conditioning()


@dataclass(frozen=True)
class SynthesisRequest:
    text: str                       # normalized
    voice: str | None               # a built-in voice, a stored voice's name, or None
    speaker: int
    format: str
    sample_rate: int
    bitrate_kbps: int | None = None         # None: the codec's default at sample_rate
    speed: float = 1.0
    seed: int = 0
    language: str = "en"
    max_audio_length_ms: int | None = None
    cache: bool = True
    context: tuple[TurnSource, ...] = ()    # turns that carry audio, oldest first
    reference: TurnSource | None = None     # reference_audio + reference_text
    stored_voice: bool = False              # `voice` names a clip in the voice library
    temperature: float | None = None        # None where the engine has no sampling settings
    top_k: int | None = None
    warnings: tuple[str, ...] = ()
    output_mode: str = "base64"             # "url": upload to a bucket and return a presigned URL
    bucket: Bucket | None = None            # from s3Config; None = the endpoint's BUCKET_* settings
    text_type: str = "text"                 # "ssml": the text is SSML (tts/text/ssml.py)
    normalize: bool = True                  # read numbers, dates, amounts, units, ... as words
    pronunciations: tuple[tuple[str, str], ...] = ()   # written form -> words, or IPA between slashes
    lexicon: str | None = None              # a stored lexicon's name: its pronunciations apply too
    transliterate: bool = False             # read letters of other scripts as Latin ones instead of refusing
    timestamps: bool = False                # report each word's start and end (tts/timestamps)
    subtitles: str | None = None            # "srt" | "vtt": the words as a subtitle file too (implies timestamps)


@dataclass(frozen=True)
class ActionRequest:
    action: str                             # health | list_voices | upload_voice | delete_voice
    params: dict = field(default_factory=dict)
