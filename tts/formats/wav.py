"""WAV: 16-bit PCM in a RIFF container (and G.711 in one, tts.formats.g711). Its header's two sizes are written at
close, so a stream starts with the header with both set to 0xFFFFFFFF ("until the end of the stream", as live WAV
streams do), then the samples."""
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
    """A WAV file's header (up to its samples) with the RIFF and data sizes set to "until the end", and the sample
    count of a fact chunk (non-PCM data has one) to 0, "not given": a stream sends it before the count is known,
    and decoders then tell the length from the data as they do for PCM (0xFFFFFFFF there reads as 27 hours)."""
    out = bytearray(header)
    out[4:8] = out[-4:] = struct.pack("<I", STREAM_SIZE)
    pos = 12
    while pos + 8 <= len(out) - 8:
        chunk, size = out[pos:pos + 4], struct.unpack_from("<I", out, pos + 4)[0]
        if chunk == b"fact" and size >= 4:
            out[pos + 8:pos + 12] = bytes(4)
        pos += 8 + size + (size & 1)
    return bytes(out)


@dataclass(frozen=True)
class Wav(SoundfileCodec):
    def stream_start(self, data, closed):
        at = data_offset(data)
        return None if at is None else (at, streaming_header(data[:at]))

    def stream_end(self, data, start, closed):
        if not closed:
            return len(data)
        # What follows the samples (a pad byte after an odd count of 8-bit samples, a trailing chunk) would be read
        # as samples from a stream whose header says "until the end".
        at = data_offset(data)
        return min(len(data), at + struct.unpack_from("<I", data, at - 4)[0])


WAV = Wav("wav", "audio/wav", aliases=("wave",), sample_bytes=2, sf_format="WAV", sf_subtype="PCM_16")
