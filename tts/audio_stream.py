"""What a client may play while a file is still being encoded: the encoder's output as an append-only byte stream.

libsndfile (and FFmpeg's muxers, for AAC) write a file front to back, then at close go back to fix what they could
not know in advance (a WAV header's sizes, MP3's info frame, FLAC's STREAMINFO, an MP4's box sizes). Which bytes may
leave as they are written, and what a stream starts with instead of the bytes fixed later, is each format's
business (tts.formats: Codec.stream_start, stream_end, stream_fix). Concatenated, a stream is one valid file of its
format; Codec.stream_of gives the same bytes from the closed file."""
from __future__ import annotations

import io
import threading

from tts.formats import Codec


class Sink(io.RawIOBase):
    """A seekable in-memory file for an encoder to write into, readable from another thread as it grows."""

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

    def __init__(self, sink: Sink, codec: Codec):
        self.sink = sink
        self.codec = codec
        self._at: int | None = None   # where in the sink the next stream byte comes from (None: not known yet)
        self.closed = False           # the encoder has closed the file: everything in the sink is final
        self.sent = 0                 # bytes taken so far

    def take(self) -> bytes:
        with self.sink.lock:
            data = self.sink.buffer
            head = b""
            if self._at is None:
                start = self.codec.stream_start(data, self.closed)
                if start is None:
                    return b""
                self._at, head = start
            end = self.codec.stream_end(data, self._at, self.closed)
            chunk = bytes(data[self._at:end]) if end > self._at else b""
            self._at = max(self._at, end)
        out = head + (self.codec.stream_fix(chunk) if chunk else b"")
        self.sent += len(out)
        return out
