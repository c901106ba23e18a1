"""The output formats: one Codec per format (tts.formats.codec says what a Codec is), registered in FORMATS.
Adding a format is one module here and one entry in FORMATS; the rest of the worker asks this table. Vendors'
names for formats (fields other APIs use) are read in tts.formats.dialects."""
from __future__ import annotations

from tts.formats.aac import AAC, M4A
from tts.formats.codec import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, Bitrates, Codec, Writer
from tts.formats.flac import FLAC
from tts.formats.g711 import ALAW, MULAW, WAV_ALAW, WAV_MULAW
from tts.formats.mp3 import MP3
from tts.formats.ogg import OGG
from tts.formats.pcm import PCM
from tts.formats.wav import WAV

__all__ = ["DEFAULT", "FORMATS", "MAX_SAMPLE_RATE", "MIN_SAMPLE_RATE", "Bitrates", "Codec", "Writer", "find", "get"]

# In the order health and error messages list them.
FORMATS: dict[str, Codec] = {c.name: c for c in (WAV, MP3, OGG, FLAC, PCM, AAC, M4A, MULAW, ALAW, WAV_MULAW,
                                                  WAV_ALAW)}
DEFAULT = WAV.name
_NAMES = {**{alias: c for c in FORMATS.values() for alias in c.aliases}, **FORMATS}


def find(name: str) -> Codec | None:
    """The codec `name` (a format's name or one of its aliases, lower case) stands for, or None."""
    return _NAMES.get(name)


def get(name: str) -> Codec:
    """The codec of a format name a request was parsed into."""
    return FORMATS[name]
