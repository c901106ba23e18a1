"""The one path every job takes: parse -> resolve -> cache lookup -> chunk -> synthesize -> encode -> store ->
deliver. Every door runs a job through TTSService.run, which yields its events (tts.events); errors become one
Failed event, counted and logged in one place."""
from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from cache import AudioCache, cache_key
from tts import audio, delivery, text
from tts.actions import Actions
from tts.assemble import Assembler
from tts.config import Settings
from tts.engines import Engine, load_engine
from tts.errors import InputError, PromptTooLarge, PromptTooLong, TimedOut, VoiceNotInstalled, WorkerPoisoned
from tts.events import Audio, Done, Failed, Started
from tts.fetch import Fetcher
from tts.request import ActionRequest, Conditioning, SynthesisRequest
from tts.resolve import Resolver
from tts.schema import parse
from tts.voices import VoiceLibrary

log = logging.getLogger("tts.service")
_LANGUAGES = {"en": "English"}
STREAM_BLOCK = 256 * 1024   # a cache hit is streamed in blocks of this many bytes


class TTSService:
    def __init__(self, engine: Engine, cache: AudioCache, settings: Settings, library: VoiceLibrary | None = None):
        self.engine = engine
        self.cache = cache
        self.settings = settings
        # Stored voices exist only for engines that clone voices from reference audio.
        if library is None and "cloning" in engine.features:
            library = VoiceLibrary(settings.voices_dir, engine.sample_rate)
        self.library = library
        self.resolver = Resolver(engine.name, engine.sample_rate, library, Fetcher(settings.allow_private_urls),
                                 settings.bucket)
        self.counts = {"jobs": 0, "failed": 0, "cache_hits": 0, "synthesized": 0, "chunks_synthesized": 0}
        self._counts_lock = threading.Lock()  # jobs run on several threads at once
        self.actions = Actions(engine, cache, settings, library, self.resolver, self.counts)

    def _count(self, name: str, n: int = 1) -> None:
        with self._counts_lock:
            self.counts[name] += n

    # -- entry points ------------------------------------------------------------------------
    def handle(self, raw_input, job_id: str = "-", progress=None) -> dict:
        """A queue job's input to its output dict (audio as base64 or a bucket URL); errors come back as
        {"error": "<field>: ..."}. `progress(update: dict)`, when given, hears after each chunk but the last."""
        for event in self.run(raw_input, job_id, progress):
            if isinstance(event, Failed):
                return event.as_output()
            if isinstance(event, Done):
                return event.result
        raise AssertionError("a job ends with Done or Failed")

    def run(self, raw_input, job_id: str = "-", progress=None, *, stream: bool = False,
            deliver: bool = True, forced_format: str | None = None) -> Iterator[Started | Audio | Done | Failed]:
        """Every door's way in: the job's events (tts.events), ending with one Done or Failed; it never raises.
        A synthesis yields Started once its request is valid and its inputs fetched, then Audio (streaming), then
        Done.

        stream: yield Audio events with the file's bytes as they are made (tts.audio_stream), and report
        first_audio_ms. deliver: put the audio into the result as base64 or a bucket URL, within
        MAX_RESPONSE_BYTES (the queue's dict output); else the door sends Done.data itself. forced_format:
        the only format this door sends (the WebSocket's raw PCM). Closing the iterator early abandons the job:
        nothing is cached."""
        self._count("jobs")
        try:
            request = parse(raw_input, self.engine.capabilities(), self.settings.max_text_chars)
            if isinstance(request, ActionRequest):
                log.info("job=%s action=%s", job_id, request.action)
                yield Done(self.actions.run(request), action=True)
                return
            if not deliver and request.output_mode == "url":
                raise InputError("output_mode", '"url" is for whole results (/runsync, /run, POST /generate); '
                                                "a stream or a file response carries the audio itself")
            if forced_format is not None and request.format != forced_format:
                raise InputError("format", f"this connection sends {forced_format} only; omit format or send "
                                           f"{forced_format!r}")
            yield from self._synthesize(request, job_id, progress, stream, deliver)
        except Exception as e:  # noqa: BLE001 - every failure ends here: counted, logged, answered
            self._count("failed")
            yield self._failure(e, job_id)

    def _failure(self, e: Exception, job_id: str) -> Failed:
        if isinstance(e, InputError):
            log.info("job=%s rejected: %s", job_id, e)
            return Failed(str(e), "input", e.field)
        if isinstance(e, WorkerPoisoned):
            log.error("job=%s engine failure, restarting the worker after this job: %s", job_id, e)
            return Failed(f"engine: {e}", "engine")
        log.error("job=%s failed unexpectedly (engine=%s): %s", job_id, self.engine.name, traceback.format_exc())
        return Failed(f"internal: {type(e).__name__}: {e} (see the worker log for job {job_id})", "internal")

    # -- synthesis ---------------------------------------------------------------------------
    def key_fields(self, r: SynthesisRequest, c: Conditioning) -> dict:
        """Everything that changes the bytes of the result (conditioning audio by its hash)."""
        e = self.engine

        def turn(t):
            return None if t is None else {"text": t.text, "speaker": t.speaker, "audio": t.audio.sha256}

        return {"text": r.text, "engine": e.name, "model": e.model_id, "model_version": e.model_version,
                "variant": e.variant,
                "voice": r.voice, "speaker": r.speaker, "format": r.format, "sample_rate": r.sample_rate,
                "speed": r.speed, "seed": r.seed, "language": r.language,
                "max_audio_length_ms": r.max_audio_length_ms, "reference": turn(c.reference),
                "context": [turn(t) for t in c.context], "temperature": r.temperature, "top_k": r.top_k}

    def _synthesize(self, r: SynthesisRequest, job_id: str, progress, stream: bool,
                    deliver: bool) -> Iterator[Started | Audio | Done]:
        t0 = time.perf_counter()
        budget = self.settings.max_job_seconds
        deadline = time.monotonic() + budget if budget else None
        bucket = self.resolver.output_bucket(r, deadline) if deliver else None
        conditioning = self.resolver.conditioning(r, deadline)
        key = cache_key(self.key_fields(r, conditioning))
        yield Started(r.format, r.sample_rate, audio.FORMATS[r.format].mimetype)
        entry = self._cached(key) if r.cache else None
        first_audio_ms = None
        if entry is not None:
            self._count("cache_hits")
            data, meta, timings = entry.data, entry.meta, {}
            if stream:
                first_audio_ms = _ms(t0)
                for i in range(0, len(data), STREAM_BLOCK):
                    yield Audio(data[i:i + STREAM_BLOCK])
        else:
            # Base64 output with no bucket to fall back on must fit MAX_RESPONSE_BYTES: refuse what cannot.
            size_limit = self.settings.max_response_bytes \
                if deliver and r.output_mode == "base64" and bucket is None else None
            if size_limit is not None:
                delivery.refuse_certain_oversize(r, self.engine.max_chars_per_second, size_limit)
            made = _Made()
            for chunk in self._generate(r, conditioning, made, progress, deadline, size_limit, stream):
                if first_audio_ms is None:
                    first_audio_ms = _ms(t0)
                yield Audio(chunk)
            data, meta, timings = made.data, made.meta, made.timings
            if r.cache:
                t = time.perf_counter()
                self.cache.put(key, data, meta)
                timings["store_ms"] = _ms(t)
        result = {
            "mimetype": audio.FORMATS[r.format].mimetype,
            "format": r.format,
            "sample_rate": r.sample_rate,
            "duration_ms": meta["duration_ms"],
            "size_bytes": len(data),
            "cache_hit": entry is not None,
            "cache_key": key,
            "engine": self.engine.name,
            "model": self.engine.model_id,
            "voice": r.voice,
            "device": self.engine.device,
            "generation_time_ms": _ms(t0),
            "chunks_processed": meta["chunks_processed"],
            "warnings": list(r.warnings),
        }
        if stream:
            result["first_audio_ms"] = first_audio_ms
        output = "stream" if stream else "file"
        if deliver:
            t = time.perf_counter()
            result.update(delivery.deliver(result, data, r.output_mode, bucket, self.settings.max_response_bytes))
            timings["deliver_ms"] = _ms(t)
            output = result["output_mode"]
        timings["total_ms"] = _ms(t0)
        log.info("job=%s engine=%s voice=%s chars=%d chunks=%d format=%s rate=%d cache=%s audio_ms=%d bytes=%d "
                 "output=%s %s", job_id, self.engine.name, r.voice, len(r.text), meta["chunks_processed"], r.format,
                 r.sample_rate, "hit" if entry else ("miss" if r.cache else "off"), meta["duration_ms"], len(data),
                 output, " ".join(f"{k}={v:.1f}" for k, v in timings.items()))
        if self.settings.output_dir:
            delivery.save_local_copy(self.settings.output_dir, job_id, r.format, data)
        yield Done(result, data)

    def _cached(self, key: str):
        """The cache entry for `key` if it carries what a result needs; an entry without is regenerated."""
        entry = self.cache.get(key)
        if entry is None:
            return None
        meta = entry.meta
        if all(isinstance(meta.get(k), int) and not isinstance(meta.get(k), bool) and meta[k] >= 0
               for k in ("duration_ms", "chunks_processed")):
            return entry
        log.warning("cache entry %s… has no usable metadata; regenerating", key[:12])
        return None

    def _generate(self, r: SynthesisRequest, c: Conditioning, made: _Made, progress=None,
                  deadline: float | None = None, size_limit: int | None = None,
                  stream: bool = False) -> Iterator[bytes]:
        """Synthesize and encode; yields the stream's bytes as they are made (when streaming) and leaves the
        whole file in `made`. Abandoned (closed) part-way, it encodes nothing more and leaves `made` empty."""
        e = self.engine
        t = time.perf_counter()
        out = Assembler(e.sample_rate, r.sample_rate, r.format, e.pause_ms, r.max_audio_length_ms, stream=stream)
        chunks_done, previous = 0, None
        chunks = text.chunk(r.text, e.max_chunk_chars)
        try:
            for chunk in chunks:
                if out.full:
                    break  # the rest would be cut anyway
                if progress is not None and chunks_done:
                    progress({"chunks_done": chunks_done, "chunks_total": len(chunks)})
                pieces = []
                for piece in e.synthesize(chunk, r, c, previous, deadline):
                    out.add(piece.samples, piece.ends_segment)
                    pieces.append(piece.samples)
                    if deadline is not None and time.monotonic() > deadline:
                        raise TimedOut(f"the job ran past its {self.settings.max_job_seconds} s budget "
                                       f"(MAX_JOB_SECONDS) with {chunks_done} of {len(chunks)} text chunks done; "
                                       "send shorter text or split it into several requests")
                    if size_limit is not None and not out.full:
                        delivery.refuse_growing_oversize(r, out.output_seconds, out.encoded_bytes, size_limit)
                    if stream and (ready := out.take()):
                        yield ready
                    if out.full:
                        break
                previous = (chunk, np.concatenate(pieces) if pieces else np.zeros(0, np.float32))
                chunks_done += 1
            timings = {"synth_ms": _ms(t)}
            t = time.perf_counter()
            data, samples = out.finish()
        except BaseException as err:
            out.abort()
            if isinstance(err, (PromptTooLong, PromptTooLarge, VoiceNotInstalled)):
                raise request_error(err, r, c, first_chunk=chunks_done == 0) from None
            raise
        if samples == 0:
            raise InputError("text", f"produced no speech: the {e.name} engine found nothing it can pronounce "
                                     f"(it reads {', '.join(_LANGUAGES.get(x, x) for x in e.languages)} words, "
                                     "numbers and common symbols)")
        if stream and (rest := out.take()):
            yield rest
        timings["encode_wait_ms"] = _ms(t)  # encoding overlaps synthesis: this is what is left after it
        self._count("synthesized")
        self._count("chunks_synthesized", chunks_done)
        made.data, made.timings = data, timings
        made.meta = {"duration_ms": audio.duration_ms(samples, r.sample_rate), "chunks_processed": chunks_done}


@dataclass
class _Made:
    """What _generate leaves behind: the whole file, its metadata and timings."""
    data: bytes = b""
    meta: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)


def request_error(e: PromptTooLong | PromptTooLarge | VoiceNotInstalled, r: SynthesisRequest, c: Conditioning,
                  first_chunk: bool) -> InputError:
    """An engine's complaint, as an error naming the request field to change."""
    if isinstance(e, VoiceNotInstalled):
        return InputError("voice", f"{e.name!r} is not installed in this worker (voices are never downloaded at "
                                   f"request time); installed: {', '.join(e.installed)}")
    context_s = sum(t.audio.seconds for t in c.context) if first_chunk else 0.0
    ref_s = c.reference.audio.seconds if c.reference is not None else 0.0
    if first_chunk and c.context:
        field = "context"
    elif c.reference is not None:
        field = "voice" if r.voice else "reference_audio"
    else:
        field = "text"
    if isinstance(e, PromptTooLarge):
        return InputError(field, f"the prompt (reference {ref_s:.1f} s, context {context_s:.1f} s, text) of "
                                 f"{e.prompt_positions} positions did not fit in GPU memory beside the {e.running} "
                                 "requests running; shorten the context or the reference audio, or retry")
    return InputError(field, f"the prompt (reference {ref_s:.1f} s, context {context_s:.1f} s, text) takes "
                             f"{e.prompt_positions} of the model's {e.max_positions} positions, leaving "
                             f"{e.room_s:.1f} s of audio for text that needs about {e.needed_s:.1f} s; "
                             "shorten the context or the reference audio")


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


def build_service(settings: Settings) -> TTSService:
    """Load the configured engine once and open the cache; logs how long the engine took."""
    t = time.perf_counter()
    engine = load_engine(settings.engine, settings)
    cache = AudioCache(settings.cache_dir, settings.cache_max_bytes)
    log.info("engine %s ready in %.2f s (model %s %s on %s, %d Hz); cache at %s", engine.name,
             time.perf_counter() - t, engine.model_id, engine.model_version, engine.device, engine.sample_rate,
             cache.directory)
    return TTSService(engine, cache, settings)
