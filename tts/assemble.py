"""Assembler: the engine's audio pieces -> one encoded file, encoded while synthesis goes on.

Segments are joined with one even pause (each seam's own edge silence trimmed to a margin first, so
the gap between sentences does not depend on how much silence the engine left around them), cut at
an optional length limit, resampled and encoded on a second thread: on a CPU engine MP3/Opus
encoding costs about as much as synthesis, and overlapping them hides most of it."""
from __future__ import annotations

import queue
import threading
import time
import weakref

import numpy as np

from tts import audio, formats
from tts.audio_stream import ByteStream, Sink
from tts.formats import Codec, Writer

MARGIN_MS = 60          # silence kept on each side of a seam, before the pause
FADE_MS = 20            # fade-out where a length limit cuts speech, so the cut does not click
_DONE = object()


class Assembler:
    """Segments arrive as pieces (tts.engines.Piece); silence is judged on frames counted from each segment's
    start, so how a segment was cut into pieces never changes the result. With `stream`, take() returns the bytes
    of the file that are final so far (tts.audio_stream), for sending while the rest is made. `bitrate_kbps`: the
    codec's bitrate (None: its default at the rate; the request parser checked it against Codec.bitrates).
    `trim_edges`: the first segment's leading silence and the last one's trailing silence are cut to the margin too
    (a session's speech, where they would be dead air before the first word and after the last)."""

    def __init__(self, native_rate: int, out_rate: int, fmt: str, pause_ms: int, limit_ms: int | None = None,
                 stream: bool = False, bitrate_kbps: int | None = None, trim_edges: bool = False):
        self.native_rate = native_rate
        self.trim_edges = trim_edges            # a session's speech: its first lead and last tail cut to the margin
        self.pause = np.zeros(native_rate * pause_ms // 1000, np.float32)
        self.margin = native_rate * MARGIN_MS // 1000
        self.limit = None if limit_ms is None else native_rate * limit_ms // 1000
        self.segments = 0                       # segments started
        self.segments_ended = 0
        # The last ended segment's place in the output, in native samples: where its sample 0 would be (its lead
        # silence was trimmed, so this may be before the segment's first kept sample) and where its kept part ends.
        self.last_segment: tuple[int, int] | None = None
        self._origin = 0
        self._break: int | None = None          # an explicit silence (samples) before the next segment
        self._emitted = 0                       # native-rate samples sent to the encoder
        self._tail = np.zeros(0, np.float32)    # the last segment's trailing silence, kept if it stays last
        self._frame = audio.frame_samples(native_rate)   # silence is judged per frame (tts.audio)
        self._reset_segment()
        self.codec = formats.get(fmt)
        self._encoder = _Encoder(native_rate, out_rate, self.codec, bitrate_kbps)
        # Dropped without finish() or abort() (a caller's failure before its try), the encoder still stops.
        weakref.finalize(self, self._encoder.stop)
        self._stream = ByteStream(self._encoder.sink, self.codec) if stream else None

    def take(self, deadline: float | None = None) -> bytes:
        """The stream's new bytes: all the audio added so far, as far as the format lets it out (streaming only).
        EncoderLate when the encoder has not caught up by `deadline` (time.monotonic())."""
        self._encoder.sync(deadline)
        return self._stream.take()

    def _reset_segment(self) -> None:
        self._pending = np.zeros(0, np.float32)  # this segment's samples not sent yet
        self._pending_at = 0                     # where _pending starts, in samples from the segment's start
        self._seen = 0                           # samples of this segment so far
        self._judged = 0                         # of those, the ones in whole frames judged loud or silent
        self._first_loud: int | None = None      # start of the segment's first loud frame
        self._loud_end = 0                       # end of its last loud frame so far
        self._open = False                       # its start has been sent

    @property
    def output_seconds(self) -> float:
        return self._emitted / self.native_rate

    @property
    def encoded_bytes(self) -> int:
        """Bytes of the file so far: exact for uncompressed formats, else what the encoder has written (which
        trails the audio a little, as its thread catches up)."""
        if self.codec.sample_bytes is not None:
            return int(self._emitted * self._encoder.out_rate / self.native_rate) * self.codec.sample_bytes
        return self._encoder.written

    @property
    def streamed_bytes(self) -> int:
        """Bytes take() has returned: a stream's size (it differs from the closed file's where the format rewrites
        bytes at close)."""
        return self._stream.sent if self._stream is not None else 0

    @property
    def full(self) -> bool:
        """The length limit is reached: further pieces would be cut anyway."""
        return self.limit is not None and self._emitted >= self.limit

    def add(self, samples: np.ndarray, ends_segment: bool = True) -> None:
        """Part of a segment; the segment ends with the piece that says so."""
        if self.full:
            return
        if len(samples):
            self._pending = np.concatenate([self._pending, samples]) if len(self._pending) else samples
            self._seen += len(samples)
            self._judge()
            if not self._open and self._first_loud is not None:
                self._start(self._first_loud)
            if self._open:
                self._send_until(self._loud_end)  # what follows may be the trailing silence: wait for more
        if ends_segment and self._seen:
            self._end()

    def pause_next(self, ms: int) -> None:
        """The silence before the next segment is `ms` (an SSML break) instead of the engine's pause; at the end,
        the file ends with it."""
        self._break = (self._break or 0) + self.native_rate * ms // 1000

    def finish(self, deadline: float | None = None) -> tuple[bytes, int]:
        """(the whole encoded file, samples at the output rate); when streaming, take() then has the rest.
        EncoderLate (and the encoder stopped) when encoding has not ended by `deadline` (time.monotonic())."""
        if self._seen:
            self._end()
        if not self.trim_edges:
            self._emit(self._tail)
        if self._break and not self.full:
            self._emit(np.zeros(self._break, np.float32))
        result = self._encoder.close(deadline=deadline)
        if self._stream is not None:
            self._stream.closed = True
        return result

    def abort(self) -> None:
        self._encoder.close(discard=True)

    def _judge(self) -> None:
        """Judge the whole frames that arrived since the last call."""
        whole = self._seen // self._frame * self._frame
        if whole <= self._judged:
            return
        loud = audio.loud_frames(self._pending[self._judged - self._pending_at: whole - self._pending_at],
                                 self._frame)
        if loud.size:
            if self._first_loud is None:
                self._first_loud = self._judged + int(loud[0]) * self._frame
            self._loud_end = self._judged + (int(loud[-1]) + 1) * self._frame
        self._judged = whole

    def _start(self, first_loud: int) -> None:
        """Send the segment's start: after a pause and a margin of its leading silence, unless it is the first."""
        self._tail = np.zeros(0, np.float32)
        start = 0
        if self._break is not None:
            self._emit(np.zeros(self._break, np.float32))
            self._break = None
            start = max(0, first_loud - self.margin)
        elif self.segments:
            self._emit(self.pause)
            start = max(0, first_loud - self.margin)
        elif self.trim_edges:
            start = max(0, first_loud - self.margin)
        self._pending, self._pending_at = self._pending[start - self._pending_at:], start
        self._origin = self._emitted - start
        self.segments += 1
        self._open = True

    def _send_until(self, end: int) -> None:
        if end > self._pending_at:
            self._emit(self._pending[: end - self._pending_at])
            self._pending, self._pending_at = self._pending[end - self._pending_at:], end

    def _end(self) -> None:
        if not self._open:  # not one loud frame: deliberate silence, kept whole
            self._start(0)
            self._send_until(self._seen)
        else:
            self._send_until(min(self._seen, self._loud_end + self.margin))
        self._tail = self._pending
        self.segments_ended += 1
        self.last_segment = (self._origin, self._emitted)
        self._reset_segment()

    def _emit(self, samples: np.ndarray) -> None:
        if len(samples) == 0 or self.full:
            return
        if self.limit is not None and self._emitted + len(samples) >= self.limit:
            samples = samples[: self.limit - self._emitted].copy()
            n = min(len(samples), self.native_rate * FADE_MS // 1000)
            samples[len(samples) - n:] *= np.linspace(1.0, 0.0, n, dtype=np.float32)
        self._emitted += len(samples)
        self._encoder.put(samples)


class EncoderLate(TimeoutError):
    """Encoding had not caught up with synthesis by the job's deadline (a slow codec and a long text)."""


def _left(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


class _Encoder:
    """Resamples and encodes blocks on its own thread (soundfile, onnxruntime and torch release the GIL). The
    thread starts with the first block, so an encoder never fed holds no thread; it ends at close() or stop()."""

    def __init__(self, in_rate: int, out_rate: int, codec: Codec, kbps: int | None = None):
        self.in_rate, self.out_rate, self.codec, self.kbps = in_rate, out_rate, codec, kbps
        self.samples = 0
        self.sink = Sink()
        self._queue: queue.Queue = queue.Queue()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopped = False

    @property
    def written(self) -> int:
        """Bytes in the file so far (read from the producer's thread: a length is atomic)."""
        return len(self.sink.buffer)

    def put(self, block: np.ndarray) -> None:
        if self._error is not None:
            raise self._error
        self._start()
        self._queue.put(block)

    def sync(self, deadline: float | None = None) -> None:
        """Wait until every block put so far is encoded (at once after close, or before the first block), until
        `deadline` at the latest (then EncoderLate)."""
        if self._thread is None or not self._thread.is_alive():
            if self._error is not None:
                raise self._error
            return
        reached = threading.Event()
        self._queue.put(reached)
        if not reached.wait(_left(deadline)):
            raise EncoderLate("the encoder had not caught up by the job's deadline")
        if self._error is not None:
            raise self._error

    def close(self, discard: bool = False, deadline: float | None = None) -> tuple[bytes, int]:
        if discard:
            self.stop()
        else:
            self._start()  # a file with no audio is still a file
            self._queue.put(_DONE)
        if self._thread is not None:
            self._thread.join(_left(deadline))
            if self._thread.is_alive():
                self.stop()   # it skips the blocks still queued: ends after the one it is encoding
                raise EncoderLate("encoding had not ended by the job's deadline")
        if discard:
            return b"", self.samples
        if self._error is not None:
            raise self._error
        return self.codec.finalize(self.sink.getvalue()), self.samples

    def stop(self) -> None:
        """End the thread without finishing the file (it may be called from any thread, the encoder's included)."""
        with self._lock:
            self._stopped = True
            if self._thread is not None:
                self._queue.put(_DONE)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None and not self._stopped:
                self._thread = threading.Thread(target=self._run, name=f"encode-{self.codec.name}", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        done = False  # _DONE taken: nothing follows it, so a failure after it has nothing to drain
        try:
            writer = self.codec.open(self.sink, self.out_rate, self.kbps)
            resampler = audio.Resampler(self.in_rate, self.out_rate)
            while True:
                block = self._queue.get()
                if block is _DONE:
                    done = True
                    break
                if isinstance(block, threading.Event):
                    block.set()
                elif not self._stopped:
                    self._write(writer, resampler.push(block))
            if not self._stopped:
                self._write(writer, resampler.finish())
            writer.close()
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread in put()/sync()/close()
            self._error = e
            while not done:  # drain, so the producer never waits on a dead consumer
                block = self._queue.get()
                if isinstance(block, threading.Event):
                    block.set()
                done = block is _DONE

    def _write(self, writer: Writer, block: np.ndarray) -> None:
        if len(block) == 0:
            return
        self.samples += len(block)
        writer.write(audio.to_pcm16(block) if self.codec.int16_input else np.clip(block, -1.0, 1.0))
