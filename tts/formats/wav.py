"""WAV: 16-bit PCM in a RIFF container. Its header's two sizes are written at close, so a stream starts with the
header with both set to 0xFFFFFFFF ("until the end of the stream", as live WAV streams do), then the samples."""
from __future__ import annotations

import struct
from dataclasses import dataclass

from tts.formats.codec import SoundfileCodec

STREAM_SIZE = 0xFFFFFFFF


def data_offset(data: bytes | bytearray) -> int | None:
    """Where the samples of a RIFF/WAVE file start (after its "data" chunk header), or None if the header is not
    all there yet."""
    if len(data) < 12:
        return None
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE file")
    pos = 12
    while pos + 8 <= len(data):
        chunk, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        if chunk == b"data":
            return pos + 8
        pos += 8 + size + (size & 1)
    return None


def streaming_header(header: bytes | bytearray) -> bytes:
    """A WAV file's header (up to its samples) with the RIFF and data sizes set to "until the end"."""
    out = bytearray(header)
    out[4:8] = out[-4:] = struct.pack("<I", STREAM_SIZE)
    return bytes(out)


@dataclass(frozen=True)
class Wav(SoundfileCodec):
    def stream_start(self, data, closed):
        at = data_offset(data)
        return None if at is None else (at, streaming_header(data[:at]))


WAV = Wav("wav", "audio/wav", aliases=("wave",), sample_bytes=2, sf_format="WAV", sf_subtype="PCM_16")
