"""FLAC, 16-bit. Its STREAMINFO block at the front gets the length and checksum only at close, so a stream of
it is the closed file, sent whole at the end."""
from __future__ import annotations

from dataclasses import dataclass

from tts.formats.codec import SoundfileCodec, WholeFileCodec


@dataclass(frozen=True)
class Flac(WholeFileCodec, SoundfileCodec):
    pass


FLAC = Flac("flac", "audio/flac", sf_format="FLAC", sf_subtype="PCM_16")
