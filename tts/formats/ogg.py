"""Ogg Opus. A stream sends whole pages only (a page is final once its last byte is written), each with the
worker's fixed stream serial: libsndfile picks a random serial per file, with no way to set it, which would make
identical requests give different bytes. Its bitrate is libopus's own choice for the rate unless a request sets
one (a variable bitrate's average target)."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import soundfile as sf

from tts.formats.codec import Bitrates, SoundfileCodec

SERIAL = 0x54545331   # "TTS1"
PAGE_MS = 200.0       # a page at least this often: a stream's audio leaves in pieces of this length
_OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
_SFC_SET_OGG_PAGE_LATENCY_MS = 0x1302  # libsndfile >= 1.2 (sndfile.h); soundfile does not wrap it
# libsndfile's range for Opus (its compression level maps linearly onto 6..256 kbit/s a channel).
_LOW_BPS, _HIGH_BPS = 6000, 256000
_BITRATES = Bitrates(_LOW_BPS // 1000, _HIGH_BPS // 1000)


def pages(data: bytes | bytearray, start: int = 0) -> Iterator[tuple[int, int]]:
    """(start, end) of each whole Ogg page from `start` on, stopping at the first page not whole yet."""
    pos = start
    while pos + 27 <= len(data) and data[pos:pos + 4] == b"OggS":
        segments = data[pos + 26]
        if pos + 27 + segments > len(data):
            return
        end = pos + 27 + segments + sum(data[pos + 27:pos + 27 + segments])
        if end > len(data):
            return
        yield pos, end
        pos = end


def whole_pages_end(data: bytes | bytearray, start: int) -> int:
    """The end of the last whole page in data[start:] (start itself if none is whole yet)."""
    return max((end for _, end in pages(data, start)), default=start)


def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else r << 1
        table.append(r & 0xFFFFFFFF)
    return table


_CRC = _crc_table()


def _crc(page: bytes | bytearray) -> int:
    crc = 0
    for byte in page:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC[(crc >> 24) ^ byte]
    return crc


def set_serial(data: bytes, serial: int = SERIAL) -> bytes:
    """Whole Ogg pages with every page's serial number set to `serial` and its checksum recomputed."""
    out = bytearray(data)
    whole = 0
    for start, whole in pages(out):
        out[start + 14:start + 18] = serial.to_bytes(4, "little")
        out[start + 22:start + 26] = b"\0\0\0\0"
        out[start + 22:start + 26] = _crc(out[start:whole]).to_bytes(4, "little")
    if whole != len(out):
        raise ValueError(f"not a whole Ogg stream: a page is cut at byte {whole} of {len(out)}")
    return bytes(out)


def compression_level(kbps: int) -> float:
    """libsndfile's compression level that makes libopus aim at `kbps`: bitrate = int((1 - level) * 250000 + 6000)."""
    # Half a bit/s high, so that the truncation cannot land one bit/s under the target (at the top: level 0).
    return max(0.0, 1.0 - (kbps * 1000 - _LOW_BPS + 0.5) / (_HIGH_BPS - _LOW_BPS))


@dataclass(frozen=True)
class Ogg(SoundfileCodec):
    def writer(self, file, rate: int, kbps: int | None) -> sf.SoundFile:
        f = super().writer(file, rate, kbps)
        _set_page_ms(f, PAGE_MS)
        return f

    def sf_options(self, rate: int, kbps: int | None) -> dict:
        return {} if kbps is None else {"compression_level": compression_level(kbps)}

    def finalize(self, data: bytes) -> bytes:
        return set_serial(data)

    def stream_end(self, data, start, closed):
        return whole_pages_end(data, start)

    def stream_fix(self, chunk: bytes) -> bytes:
        return set_serial(chunk)


def _set_page_ms(f: sf.SoundFile, ms: float) -> None:
    """libsndfile's Opus writer holds a page until it has ~1 s of audio; a stream wants smaller ones."""
    from soundfile import _ffi, _snd

    value = _ffi.new("double*", ms)
    _snd.sf_command(f._file, _SFC_SET_OGG_PAGE_LATENCY_MS, value, _ffi.sizeof("double"))


OGG = Ogg("ogg", "audio/ogg", _OPUS_RATES, aliases=("opus",), lossy=True, int16_input=False,
          kbps=dict.fromkeys(_OPUS_RATES, _BITRATES), sf_format="OGG", sf_subtype="OPUS")
