"""The one path every job takes: parse -> resolve -> cache lookup -> chunk -> synthesize -> encode -> store ->
deliver. Every door runs a job through TTSService.run, which yields its events (tts.events); errors become one
Failed event, counted and logged in one place."""
from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Generator, Iterator
from dataclasses import dataclass, replace

import numpy as np

from cache import AudioCache, synthesis_key
from tts import audio, delivery, formats, text
from tts.actions import Actions
from tts.assemble import Assembler, EncoderLate
from tts.config import Settings
from tts.engines import Engine, load_engine
from tts.errors import (
    InputError,
    OutputError,
    PromptTooLarge,
    PromptTooLong,
    StorageError,
    TimedOut,
    UnspeakablePhonemes,
    VoiceNotInstalled,
    WorkerPoisoned,
    printable,
)
from tts.events import Audio, Done, Failed, Started, Words, Working
from tts.fetch import Fetcher
from tts.lexicons import LexiconLibrary
from tts.metrics import Metrics
from tts.request import ActionRequest, Conditioning, SynthesisRequest
from tts.resolve import Resolver
from tts.result import Result
from tts.schema import parse
from tts.text import frontend
from tts.text.script import Script
from tts.timestamps import subtitles
from tts.timestamps.track import WordTrack
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
        self.lexicons = LexiconLibrary(settings.lexicons_dir)
        self.metrics = Metrics()
        busy = getattr(engine, "busy", None)  # engines that batch say how many requests they are generating
        if busy is not None:
            self.metrics.gauge("tts_engine_busy", "Requests the engine is generating now (CSM: batch slots in use)",
                               lambda: engine.busy)
        self.actions = Actions(engine, cache, settings, library, self.resolver, self.metrics, self.lexicons)

    def close(self) -> None:
        """Stop the engine's threads (the worker is shutting down)."""
        self.engine.close()

    @property
    def counts(self) -> dict[str, int]:
        return self.metrics.counts()

    # -- entry points ------------------------------------------------------------------------
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
        kind = "invalid"
        try:
            request = parse(raw_input, self.engine.capabilities(), self.settings.max_text_chars)
            kind = "action" if isinstance(request, ActionRequest) else "synthesis"
            self.metrics.job(kind)
            if isinstance(request, ActionRequest):
                log.info("job=%s action=%s", job_id, request.action)
                yield Done(action=self.actions.run(request, self._deadline()))
                return
            if not deliver and request.output_mode == "url":
                raise InputError("output_mode", '"url" is for whole results (/runsync, /run, POST /generate); '
                                                "a stream or a file response carries the audio itself")
            if forced_format is not None and request.format != forced_format:
                raise InputError("format", f"this connection sends {forced_format} only; omit format or send "
                                           f"{forced_format!r}")
            yield from self._synthesize(request, job_id, progress, stream, deliver)
        except Exception as e:  # noqa: BLE001 - every failure ends here: counted, logged, answered
            if kind == "invalid":
                self.metrics.job(kind)
            failed = self._failure(e, job_id)
            self.metrics.failed(failed.kind)
            yield failed

    def _deadline(self) -> float | None:
        """When a job starting now must end (time.monotonic()): MAX_JOB_SECONDS from now; None without a limit."""
        budget = self.settings.max_job_seconds
        return time.monotonic() + budget if budget else None

    def _failure(self, e: Exception, job_id: str) -> Failed:
        if isinstance(e, InputError):
            log.info("job=%s rejected: %s", job_id, e)
            kind = "timeout" if isinstance(e, TimedOut) else "output" if isinstance(e, OutputError) else "input"
            return Failed(str(e), kind, e.field)
        if isinstance(e, WorkerPoisoned):
            log.error("job=%s engine failure, restarting the worker after this job: %s", job_id, e)
            return Failed(f"engine: {e}", "engine")
        if isinstance(e, StorageError):
            # Not a bug (no traceback) and not the request's fault: answered as a server error clients retry (HTTP
            # 500, not 503: every worker shares the volume, so "try another worker" would not help).
            log.error("job=%s storage failure: %s", job_id, e)
            return Failed(f"storage: {e}", "internal")
        log.error("job=%s failed unexpectedly (engine=%s): %s", job_id, self.engine.name, traceback.format_exc())
        return Failed(f"internal: {type(e).__name__}: {e} (see the worker log for job {job_id})", "internal")

    # -- synthesis ---------------------------------------------------------------------------
    def _synthesize(self, r: SynthesisRequest, job_id: str, progress, stream: bool,
                    deliver: bool) -> Iterator[Started | Audio | Done]:
        t0 = time.perf_counter()
        deadline = self._deadline()
        bucket = self.resolver.output_bucket(r, deadline) if deliver else None
        conditioning = self.resolver.conditioning(r, deadline)
        script = self._script(r)
        key = synthesis_key(self.engine, r, conditioning, script)
        codec = formats.get(r.format)
        yield Started(r.format, r.sample_rate, codec.mimetype)
        entry = self._cached(key, r.timestamps) if r.cache else None
        if r.cache:
            self.metrics.cache_lookup(entry is not None)
        first_audio_ms, sent = None, 0   # sent: the bytes a stream sent (its size_bytes)
        if entry is not None:
            words = entry.meta.get("words") if r.timestamps else None
            data, made = entry.data, _Made(entry.meta["duration_ms"], entry.meta["chunks_processed"], {}, words)
            if stream:
                first_audio_ms = _ms(t0)
                streamed = codec.stream_of(data)  # byte for byte what its miss streamed
                for i in range(0, len(streamed), STREAM_BLOCK):
                    yield Audio(streamed[i:i + STREAM_BLOCK])
                sent = len(streamed)
        else:
            # Base64 output with no bucket to fall back on must fit MAX_RESPONSE_BYTES: refuse what cannot.
            size_limit = self.settings.max_response_bytes \
                if deliver and r.output_mode == "base64" and bucket is None else None
            if size_limit is not None:
                delivery.refuse_certain_oversize(r, self.engine.max_chars_per_second, size_limit)
            synthesis = self._generate(r, script, conditioning, progress, deadline, size_limit, stream)
            try:
                while True:
                    try:
                        chunk = next(synthesis)
                    except StopIteration as done:
                        data, made = done.value
                        break
                    if chunk is None:
                        yield Working()
                        continue
                    if first_audio_ms is None:
                        first_audio_ms = _ms(t0)
                    sent += len(chunk)
                    yield Audio(chunk)
            finally:
                synthesis.close()  # a door that stops listening stops the synthesis here
            if r.cache:
                t = time.perf_counter()
                meta = {"duration_ms": made.duration_ms, "chunks_processed": made.chunks}
                self.cache.put(key, data, meta if made.words is None else {**meta, "words": made.words})
                made.timings["store_ms"] = _ms(t)
        timings = made.timings
        result = Result(codec.mimetype, r.format, r.sample_rate, made.duration_ms, sent if stream else len(data),
                        entry is not None, key, self.engine.name, self.engine.model_id, r.voice, self.engine.device,
                        _ms(t0), made.chunks, tuple(r.warnings), first_audio_ms,
                        None if made.words is None else tuple(made.words),
                        None if r.subtitles is None else subtitles.render(made.words, r.subtitles))
        if stream:
            self.metrics.first_audio.observe(first_audio_ms / 1000)
        output = "stream" if stream else "file"
        if deliver:
            t = time.perf_counter()
            result = result.delivered_as(delivery.deliver(result, data, r.output_mode, bucket,
                                                          self.settings.max_response_bytes, deadline))
            timings["deliver_ms"] = _ms(t)
            output = result.delivered["output_mode"]
        timings["total_ms"] = _ms(t0)
        self.metrics.job_seconds.observe(timings["total_ms"] / 1000)
        log.info("job=%s engine=%s voice=%s chars=%d chunks=%d format=%s rate=%d cache=%s audio_ms=%d bytes=%d "
                 "output=%s %s", job_id, self.engine.name, r.voice, len(r.text), made.chunks, r.format,
                 r.sample_rate, "hit" if entry else ("miss" if r.cache else "off"), made.duration_ms, len(data),
                 output, " ".join(f"{k}={v:.1f}" for k, v in timings.items()))
        if self.settings.output_dir:
            delivery.save_local_copy(self.settings.output_dir, job_id, r.format, data)
        yield Done(result=result, data=b"" if stream else data)  # a stream already sent its bytes

    # -- sessions (tts/doors/session.py) ------------------------------------------------------
    def speak(self, speech: Speech, text: str, job_id: str = "-",
              last: bool = False) -> Iterator[Audio | Done | Failed]:
        """One segment of a session's context: its audio (Audio events, the stream's new bytes) as the engine makes
        it, then Done, or Failed (the context goes on with a fresh stream); `last` also ends the stream. Never
        cached: a segment's audio depends on the segments before it (the seam, CSM's `previous`). Closing the
        iterator early (a cancel) abandons the context's stream."""
        finished = False
        try:
            yield from self._speak(speech, text, job_id, last)
            finished = True
        except Exception as e:  # noqa: BLE001 - answered to the session as an error message
            failed = self._failure(e, job_id)
            self.metrics.failed(failed.kind)
            finished = True
            speech.abort()
            yield failed
        finally:
            if not finished:
                speech.abort()

    def _speak(self, speech: Speech, text: str, job_id: str, last: bool) -> Iterator[Audio | Done]:
        r, e = speech.request, self.engine
        t0 = time.perf_counter()
        deadline = self._deadline()
        if speech.conditioning is None:
            speech.conditioning = self.resolver.conditioning(r, deadline)
        units = _units(self._script(replace(r, text=text)), e.max_chunk_chars) if text.strip() else []
        out = speech.assembler(e)
        track, known = speech.track, len(speech.track.words) if speech.track else 0
        before = out.output_seconds
        try:
            for unit in units:
                pieces = []
                for piece in self._pieces(unit, r, speech.conditioning, speech.previous, deadline):
                    out.add(piece.samples, piece.ends_segment)
                    pieces.append(piece.samples)
                    if track is not None:
                        track.add(piece, unit.text, out)
                    if ready := out.take():
                        yield Audio(ready)
                if unit.pause_ms is not None:
                    out.pause_next(unit.pause_ms)
                speech.previous = _spoken(unit, pieces) or speech.previous
        except (PromptTooLong, PromptTooLarge, VoiceNotInstalled, UnspeakablePhonemes) as err:
            raise request_error(err, r, speech.conditioning, first_chunk=speech.previous is None) from None
        if last:
            out.finish()
            speech.out = None
        if rest := out.take():
            yield Audio(rest)
        if track is not None and len(track.words) > known:
            yield Words(tuple(track.words[known:]))
        if units:
            self.metrics.synthesized(len(units), out.output_seconds - before, time.perf_counter() - t0)
        log.info("job=%s session segment: engine=%s voice=%s chars=%d units=%d last=%s ms=%.1f", job_id, e.name,
                 r.voice, len(text), len(units), last, _ms(t0))
        yield Done()

    def _cached(self, key: str, timestamps: bool = False):
        """The cache entry for `key` if it carries what a result needs (the words, when asked for: an entry made
        without them is made again, with them); an entry without is regenerated."""
        entry = self.cache.get(key)
        if entry is None:
            return None
        meta = entry.meta
        if timestamps and not _words_ok(meta.get("words")):
            return None
        if all(isinstance(meta.get(k), int) and not isinstance(meta.get(k), bool) and meta[k] >= 0
               for k in ("duration_ms", "chunks_processed")):
            return entry
        log.warning("cache entry %s… has no usable metadata; regenerating", key[:12])
        return None

    def _script(self, r: SynthesisRequest) -> Script:
        """What the engine will speak: the text front end (SSML, pronunciations, written forms read out)."""
        e = self.engine
        entries = {}
        if r.lexicon is not None:
            entries = self.lexicons.get(r.lexicon)
            if entries is None:
                raise InputError("lexicon", f"no stored lexicon {r.lexicon!r}; stored: "
                                            f"{', '.join(self.lexicons.names()) or 'none'} (upload_lexicon stores one)")
        try:
            return frontend.prepare(r.text, as_ssml=r.text_type == "ssml", normalize=r.normalize,
                                    pronunciations={**entries, **dict(r.pronunciations)},
                                    phonemes="phonemes" in e.features,
                                    scripts=e.scripts, transliterate=r.transliterate)
        except frontend.FrontEndError as err:
            raise InputError(err.field, str(err)) from None

    def _pieces(self, unit: _Unit, r: SynthesisRequest, c: Conditioning, previous, deadline: float | None):
        """The engine's pieces for one unit: words (conditioned on the unit before), a pronunciation, or nothing."""
        e = self.engine
        if unit.phonemes is not None:
            source = e.synthesize_phonemes(unit.phonemes, r)
        elif unit.text:
            source = e.synthesize(unit.text, r, c, previous, deadline)
        else:
            source = iter(())
        return _read(source, e.name, unit)

    def _generate(self, r: SynthesisRequest, script: Script, c: Conditioning, progress=None,
                  deadline: float | None = None, size_limit: int | None = None,
                  stream: bool = False) -> Generator[bytes | None, None, tuple[bytes, _Made]]:
        """Speak the script and encode it; yields the stream's bytes as they are made (when streaming; else None
        after each piece) and returns the whole file and what was made. Abandoned (closed) part-way, it encodes
        nothing more."""
        e = self.engine
        t = t_start = time.perf_counter()
        units = _units(script, e.max_chunk_chars)
        done, previous = 0, None
        out = Assembler(e.sample_rate, r.sample_rate, r.format, e.pause_ms, r.max_audio_length_ms, stream=stream,
                        bitrate_kbps=r.bitrate_kbps)
        track = WordTrack(e.name, e.sample_rate) if r.timestamps else None
        try:
            for unit in units:
                if out.full:
                    break  # the rest would be cut anyway
                if progress is not None and done:
                    progress({"chunks_done": done, "chunks_total": len(units)})
                pieces = []
                for piece in self._pieces(unit, r, c, previous, deadline):
                    out.add(piece.samples, piece.ends_segment)
                    pieces.append(piece.samples)
                    if track is not None:
                        track.add(piece, unit.text, out)
                    if deadline is not None and time.monotonic() > deadline:
                        raise TimedOut(f"the job ran past its {self.settings.max_job_seconds} s budget "
                                       f"(MAX_JOB_SECONDS) with {done} of {len(units)} text chunks done; "
                                       "send shorter text or split it into several requests")
                    if size_limit is not None and not out.full:
                        delivery.refuse_growing_oversize(r, out.output_seconds, out.encoded_bytes, size_limit)
                    if not stream:
                        yield None  # a piece made: the door's runner may stop an abandoned job here
                    elif ready := out.take(deadline):
                        yield ready
                    if out.full:
                        break
                if unit.pause_ms is not None:
                    out.pause_next(unit.pause_ms)
                previous = _spoken(unit, pieces) or previous
                done += 1
            timings = {"synth_ms": _ms(t)}
            t = time.perf_counter()
            data, samples = out.finish(deadline)
        except EncoderLate:
            out.abort()
            raise TimedOut(f"the job ran past its {self.settings.max_job_seconds} s budget (MAX_JOB_SECONDS) while "
                           f"encoding {r.format} ({done} of {len(units)} text chunks made); send shorter text, split "
                           "it into several requests, or ask for a quicker format (wav, pcm, mp3)") from None
        except BaseException as err:
            out.abort()
            if isinstance(err, (PromptTooLong, PromptTooLarge, VoiceNotInstalled, UnspeakablePhonemes)):
                raise request_error(err, r, c, first_chunk=done == 0) from None
            raise
        if samples == 0:
            raise InputError("text", f"produced no speech: the {e.name} engine found nothing it can pronounce "
                                     f"(it reads {', '.join(_LANGUAGES.get(x, x) for x in e.languages)} words, "
                                     "numbers and common symbols)")
        if stream and (rest := out.take()):
            yield rest
        timings["encode_wait_ms"] = _ms(t)  # encoding overlaps synthesis: this is what is left after it
        self.metrics.synthesized(done, samples / r.sample_rate, time.perf_counter() - t_start)
        return data, _Made(audio.duration_ms(samples, r.sample_rate), done, timings,
                           None if track is None else track.words)


@dataclass(frozen=True)
class _Unit:
    """One engine call: a chunk of words or a pronunciation, and an explicit silence after it."""
    text: str
    phonemes: str | None = None
    pause_ms: int | None = None


def _units(script: Script, max_chars: int) -> list[_Unit]:
    units: list[_Unit] = []
    for seg in script:
        if seg.phonemes is not None:
            units.append(_Unit(seg.text, seg.phonemes))
        else:
            units.extend(_Unit(c) for c in text.chunk(seg.text, max_chars))
        if seg.pause_ms is not None:
            if units and units[-1].pause_ms is None:
                units[-1] = _Unit(units[-1].text, units[-1].phonemes, seg.pause_ms)
            else:
                units.append(_Unit("", None, seg.pause_ms))
    return units


# What an engine raises when it cannot read a piece of text (its number reader, its phonemizer): the text's
# fault as far as the caller can tell, answered as a `text:` error naming the span, not as an internal error.
_UNREADABLE = (ValueError, IndexError, KeyError, UnicodeError, ArithmeticError, RecursionError)


def _words_ok(words) -> bool:
    """A cache entry's words, as WordTrack made them (a volume's files are checked, never trusted)."""
    return isinstance(words, list) and all(
        isinstance(w, dict) and isinstance(w.get("word"), str) and isinstance(w.get("start_ms"), int)
        and isinstance(w.get("end_ms"), int) for w in words)


def _read(source, engine: str, unit: _Unit):
    while True:
        try:
            piece = next(source)
        except StopIteration:
            return
        except _UNREADABLE as err:
            log.warning("the %s engine failed on a text span: %s", engine, traceback.format_exc())
            raise InputError("text", f"the {engine} engine could not read {printable(unit.text, 80)!r} "
                                     f"({type(err).__name__}: {printable(str(err), 120)}); rephrase or spell it "
                                     "out") from None
        yield piece


@dataclass(frozen=True)
class _Made:
    """What a synthesis (or a cache entry) gives the result: its length, its chunks, and the timings to log."""
    duration_ms: int
    chunks: int
    timings: dict
    words: list[dict] | None = None   # asked for timestamps: the words on the file's clock


class Speech:
    """A session context's speech across its segment jobs (TTSService.speak): one Assembler, so consecutive
    segments are joined as a long text's chunks are (one pause, no double silences), and the last segment spoken,
    CSM's `previous`: each segment is conditioned on the one before it. Used by one job at a time."""

    def __init__(self, request: SynthesisRequest):
        self.request = request
        self.conditioning: Conditioning | None = None   # resolved by the first segment's job
        self.previous: tuple[str, np.ndarray] | None = None
        self.out: Assembler | None = None
        self.track: WordTrack | None = None       # the stream's words (request.timestamps), on its clock

    def assembler(self, engine: Engine) -> Assembler:
        if self.out is None:
            r = self.request
            self.out = Assembler(engine.sample_rate, r.sample_rate, r.format, engine.pause_ms, stream=True,
                                 trim_edges=True)
            self.track = WordTrack(engine.name, engine.sample_rate) if r.timestamps else None
        return self.out

    def abort(self) -> None:
        """Drop the stream (a cancel or a failure): the next segment starts a new one."""
        if self.out is not None:
            self.out.abort()
            self.out = None


def _spoken(unit: _Unit, pieces: list[np.ndarray]) -> tuple[str, np.ndarray] | None:
    """What the next unit is conditioned on (CSM's `previous`): a unit of words and its audio; None for others."""
    if not unit.text or unit.phonemes is not None:
        return None
    return unit.text, np.concatenate(pieces) if pieces else np.zeros(0, np.float32)


def request_error(e: PromptTooLong | PromptTooLarge | VoiceNotInstalled | UnspeakablePhonemes, r: SynthesisRequest,
                  c: Conditioning, first_chunk: bool) -> InputError:
    """An engine's complaint, as an error naming the request field to change."""
    if isinstance(e, UnspeakablePhonemes):
        return InputError("text", str(e))
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
