"""What a client may play while a file is still being encoded: the encoder's output as an append-only byte stream.

libsndfile writes a file front to back, then at close goes back to fix what it could not know in advance: the
WAV header's sizes and MP3's Xing/LAME info frame. Those bytes cannot be streamed as first written, so:

- wav: a streaming header (RIFF and data sizes 0xFFFFFFFF, "until the end"), then the samples as written;
- mp3: every frame after the first (the info frame, a placeholder until close): plain MPEG frames;
- ogg: whole pages only, each with the worker's fixed stream serial (tts.audio.set_ogg_serial);
- pcm: the samples as written;
- flac: nothing until close (its STREAMINFO at the front gets the length and checksum only then), then the file.

Concatenated, a stream is one valid file of its format; the closed file (what the cache stores) differs only in
those fixed-up bytes."""
from __future__ import annotations

import io
import struct
import threading

from tts import audio

STREAM_SIZE = 0xFFFFFFFF
_WAV_HEADER = 44   # libsndfile's header for 16-bit mono PCM WAV, rewritten at close
# MPEG audio layer III bitrates (kbit/s) by header index: MPEG-1, and MPEG-2/2.5.
_MP3_KBPS = {1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
             2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)}
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}  # by version bits


def wav_stream_header(rate: int) -> bytes:
    """A 16-bit mono PCM WAV header whose sizes say "until the end of the stream"."""
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    return b"RIFF" + struct.pack("<I", STREAM_SIZE) + b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + \
        b"data" + struct.pack("<I", STREAM_SIZE)


def mp3_frame_length(header: bytes) -> int:
    """The length in bytes of the MPEG layer III frame whose 4-byte header this is."""
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        raise ValueError("not an MPEG audio frame header")
    version = (header[1] >> 3) & 3          # 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
    bitrate = _MP3_KBPS[1 if version == 3 else 2][header[2] >> 4] * 1000
    rate = _MP3_RATES[version][(header[2] >> 2) & 3]
    padding = (header[2] >> 1) & 1
    return (144 if version == 3 else 72) * bitrate // rate + padding


def ogg_whole_pages(data: bytes | bytearray, start: int) -> int:
    """The end of the last whole Ogg page in data[start:] (start itself if none is whole yet)."""
    end = start
    while end + 27 <= len(data) and data[end:end + 4] == b"OggS":
        segments = data[end + 26]
        if end + 27 + segments > len(data):
            break
        page_end = end + 27 + segments + sum(data[end + 27:end + 27 + segments])
        if page_end > len(data):
            break
        end = page_end
    return end


class Sink(io.RawIOBase):
    """A seekable in-memory file for libsndfile to write into, readable from another thread as it grows."""

    def __init__(self) -> None:
        super().__init__()
        self.buffer = bytearray()
        self._pos = 0
        self.lock = threading.Lock()

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def write(self, b) -> int:
        with self.lock:
            end = self._pos + len(b)
            self.buffer[self._pos:end] = b
            self._pos = end
        return len(b)

    def read(self, size: int = -1) -> bytes:
        with self.lock:
            end = len(self.buffer) if size < 0 else min(len(self.buffer), self._pos + size)
            out = bytes(self.buffer[self._pos:end])
            self._pos = end
        return out

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        with self.lock:
            base = (0, self._pos, len(self.buffer))[whence]
            self._pos = base + offset
            return self._pos

    def tell(self) -> int:
        return self._pos

    def getvalue(self) -> bytes:
        with self.lock:
            return bytes(self.buffer)


class ByteStream:
    """The playable stream of one encoder's Sink: take() what is new, as the encoder writes and once after close."""

    def __init__(self, sink: Sink, fmt: str, rate: int):
        self.sink = sink
        self.fmt = fmt
        self.rate = rate
        self._at: int | None = None   # where in the sink the next stream byte comes from (None: not known yet)
        self.closed = False           # the encoder has closed the file: everything in the sink is final

    def take(self) -> bytes:
        with self.sink.lock:
            data = self.sink.buffer
            head = b""
            if self._at is None:
                if self.fmt == "wav":
                    if len(data) < _WAV_HEADER:
                        return b""
                    self._at, head = _WAV_HEADER, wav_stream_header(self.rate)
                elif self.fmt == "flac" and not self.closed:
                    return b""
                elif self.fmt == "mp3":
                    if len(data) < 4:
                        return b""
                    self._at = mp3_frame_length(bytes(data[:4]))
                else:
                    self._at = 0
            end = len(data)
            if self.fmt == "ogg":
                end = ogg_whole_pages(data, self._at)
            if end <= self._at:
                return head
            chunk = bytes(data[self._at:end])
            self._at = end
        if self.fmt == "ogg":
            chunk = audio.set_ogg_serial(chunk)
        return head + chunk
