"""The one path every job takes: parse -> cache lookup -> chunk -> synthesize -> encode -> store -> respond."""
from __future__ import annotations

import base64
import json
import logging
import os
import time
import traceback

import numpy as np

from cache import AudioCache, cache_key
from tts import audio, text
from tts.assemble import Assembler
from tts.config import Settings
from tts.engines import Engine, load_engine
from tts.errors import EngineError, InputError, WorkerPoisoned
from tts.request import ActionRequest, SynthesisRequest, parse
from tts.upload import URL_EXPIRES_S, Bucket, bucket_from_env, upload
from tts.voices import VoiceLibrary

log = logging.getLogger("tts.service")
_LANGUAGES = {"en": "English"}


class TTSService:
    def __init__(self, engine: Engine, cache: AudioCache, settings: Settings, library: VoiceLibrary | None = None):
        self.engine = engine
        self.cache = cache
        self.settings = settings
        # Stored voices exist only for engines that clone voices from reference audio.
        if library is None and "cloning" in engine.features:
            library = VoiceLibrary(settings.voices_dir, engine.sample_rate)
        self.library = library
        self.bucket: Bucket | None = bucket_from_env()
        self.started = time.time()
        self.counts = {"jobs": 0, "failed": 0, "cache_hits": 0, "synthesized": 0, "chunks_synthesized": 0}

    # -- entry point -------------------------------------------------------------------------
    def handle(self, raw_input, job_id: str = "-", progress=None) -> dict:
        """A job's input to its output dict; errors come back as {"error": "<field>: ..."}.
        `progress(update: dict)`, when given, hears after each chunk but the last of a long text."""
        self.counts["jobs"] += 1
        try:
            request = parse(raw_input, self.engine, self.settings.max_text_chars, self.library)
            if isinstance(request, ActionRequest):
                log.info("job=%s action=%s", job_id, request.action)
                return self._action(request)
            return self._synthesize(request, job_id, progress)
        except InputError as e:
            self.counts["failed"] += 1
            log.info("job=%s rejected: %s", job_id, e)
            return {"error": str(e)}
        except WorkerPoisoned as e:
            self.counts["failed"] += 1
            log.error("job=%s engine failure, restarting the worker after this job: %s", job_id, e)
            return {"error": f"engine: {e}", "refresh_worker": True}
        except EngineError as e:
            self.counts["failed"] += 1
            log.error("job=%s engine error: %s", job_id, e)
            return {"error": f"engine: {e}"}
        except Exception as e:  # noqa: BLE001 - any other failure is a bug: log it whole, keep the worker
            self.counts["failed"] += 1
            log.error("job=%s failed unexpectedly (engine=%s): %s", job_id, self.engine.name,
                      traceback.format_exc())
            return {"error": f"internal: {type(e).__name__}: {e} (see the worker log for job {job_id})"}

    # -- actions -----------------------------------------------------------------------------
    def _action(self, request: ActionRequest) -> dict:
        p = request.params
        if request.action == "list_voices":
            return {"engine": self.engine.name, "default_voice": self.engine.default_voice, "voices": self._voices()}
        if request.action == "upload_voice":
            return {"voice": self.library.save(p["name"], p["audio"], p["text"])}
        if request.action == "delete_voice":
            if not self.library.delete(p["name"]):
                raise InputError("name", f"no stored voice {p['name']!r}; stored: "
                                         f"{', '.join(self.library.names()) or 'none'}")
            return {"deleted": p["name"]}
        e = self.engine
        return {
            "status": "ok",
            "engine": e.name,
            "model": e.model_id,
            "model_version": e.model_version,
            "device": e.device,
            "sample_rate": e.sample_rate,
            "default_voice": e.default_voice,
            "voices": [v["name"] for v in self._voices() if v["installed"]],
            "formats": list(audio.FORMATS),
            "limits": {"max_text_chars": self.settings.max_text_chars,
                       "max_response_bytes": self.settings.max_response_bytes},
            "features": sorted(e.features),
            "voices_dir": self.library.directory if self.library else None,
            "cache": self.cache.stats(),
            "counts": dict(self.counts),
            "uptime_s": round(time.time() - self.started, 1),
        }

    def _voices(self) -> list[dict]:
        voices = [{**v.as_dict(), "stored": False} for v in self.engine.voices()]
        if self.library is not None:
            voices += [{"name": v["name"], "installed": True, "language": self.engine.languages[0],
                        "description": f"stored voice, {v['seconds']} s: {v['text'][:80]}", "stored": True}
                       for v in self.library.describe()]
        return voices

    # -- synthesis ---------------------------------------------------------------------------
    def key_fields(self, r: SynthesisRequest) -> dict:
        """Everything that changes the bytes of the result (conditioning audio by its hash)."""
        e = self.engine

        def turn(t):
            return None if t is None else {"text": t.text, "speaker": t.speaker, "audio": t.audio.sha256}

        return {"text": r.text, "engine": e.name, "model": e.model_id, "model_version": e.model_version,
                "voice": r.voice, "speaker": r.speaker, "format": r.format, "sample_rate": r.sample_rate,
                "speed": r.speed, "seed": r.seed, "language": r.language,
                "max_audio_length_ms": r.max_audio_length_ms, "reference": turn(r.reference),
                "context": [turn(t) for t in r.context], "temperature": r.temperature, "top_k": r.top_k}

    def _synthesize(self, r: SynthesisRequest, job_id: str, progress=None) -> dict:
        t0 = time.perf_counter()
        bucket = r.bucket or self.bucket
        if r.output_mode == "url" and bucket is None:  # before any work: this request cannot succeed
            raise InputError("output_mode", '"url" needs a bucket: set BUCKET_ENDPOINT_URL, BUCKET_ACCESS_KEY_ID, '
                                            "BUCKET_SECRET_ACCESS_KEY and BUCKET_NAME on the endpoint, or send s3Config")
        key = cache_key(self.key_fields(r))
        entry = self.cache.get(key) if r.cache else None
        if entry is not None:
            self.counts["cache_hits"] += 1
            data, meta, timings = entry.data, entry.meta, {}
        else:
            data, meta, timings = self._generate(r, progress)
            if r.cache:
                t = time.perf_counter()
                self.cache.put(key, data, meta)
                timings["store_ms"] = _ms(t)
        total_ms = _ms(t0)
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
            "generation_time_ms": total_ms,
            "chunks_processed": meta["chunks_processed"],
            "warnings": list(r.warnings),
        }
        failed = self._deliver(r, result, data, bucket, job_id, timings)
        if failed is not None:
            self.counts["failed"] += 1
            return failed
        timings["total_ms"] = _ms(t0)
        log.info("job=%s engine=%s voice=%s chars=%d chunks=%d format=%s rate=%d cache=%s audio_ms=%d bytes=%d "
                 "output=%s %s", job_id, self.engine.name, r.voice, len(r.text), meta["chunks_processed"], r.format,
                 r.sample_rate, "hit" if entry else ("miss" if r.cache else "off"), meta["duration_ms"], len(data),
                 result["output_mode"], " ".join(f"{k}={v:.1f}" for k, v in timings.items()))
        self._save_local_copy(job_id, r.format, data)
        return result

    def _deliver(self, r: SynthesisRequest, result: dict, data: bytes, bucket: Bucket | None, job_id: str,
                 timings: dict) -> dict | None:
        """Put the audio into `result`: base64, or a bucket URL when asked for or when base64 would be too
        large and a bucket is configured. Returns an error dict instead when neither can be done."""
        too_big = None if r.output_mode == "url" else self._oversize(result, len(data))
        if too_big and bucket is None:
            log.warning("job=%s output too large: %s", job_id, too_big)
            return {"error": too_big}
        if r.output_mode == "base64" and not too_big:
            result.update(output_mode="base64", audio_base64=base64.b64encode(data).decode("ascii"))
            return None
        t = time.perf_counter()
        try:
            result["audio_url"] = upload(bucket, data, f"{result['cache_key']}.{r.format}", result["mimetype"])
        except Exception as e:  # noqa: BLE001 - boto raises many types; the job fails with the reason
            log.error("job=%s upload to bucket %s at %s failed: %s", job_id, bucket.name, bucket.endpoint_url, e)
            return {"error": f"output: could not upload to bucket {bucket.name!r} at {bucket.endpoint_url}: "
                             f"{type(e).__name__}: {e}"}
        result.update(output_mode="url", url_expires_s=URL_EXPIRES_S)
        timings["upload_ms"] = _ms(t)
        return None

    def _generate(self, r: SynthesisRequest, progress=None) -> tuple[bytes, dict, dict]:
        e = self.engine
        t = time.perf_counter()
        out = Assembler(e.sample_rate, r.sample_rate, r.format, e.pause_ms, r.max_audio_length_ms)
        chunks_done, previous = 0, None
        chunks = text.chunk(r.text, e.max_chunk_chars)
        try:
            for chunk in chunks:
                if out.full:
                    break  # the rest would be cut anyway
                if progress is not None and chunks_done:
                    progress({"chunks_done": chunks_done, "chunks_total": len(chunks)})
                pieces = []
                for piece in e.synthesize(chunk, r, previous):
                    out.add(piece)
                    pieces.append(piece)
                    if out.full:
                        break
                previous = (chunk, np.concatenate(pieces) if pieces else np.zeros(0, np.float32))
                chunks_done += 1
            timings = {"synth_ms": _ms(t)}
            t = time.perf_counter()
            data, samples = out.finish()
        except BaseException:
            out.abort()
            raise
        if samples == 0:
            raise InputError("text", f"produced no speech: the {e.name} engine found nothing it can pronounce "
                                     f"(it reads {', '.join(_LANGUAGES.get(x, x) for x in e.languages)} words, "
                                     "numbers and common symbols)")
        timings["encode_wait_ms"] = _ms(t)  # encoding overlaps synthesis: this is what is left after it
        self.counts["synthesized"] += 1
        self.counts["chunks_synthesized"] += chunks_done
        meta = {"duration_ms": audio.duration_ms(samples, r.sample_rate), "chunks_processed": chunks_done}
        return data, meta, timings

    def _oversize(self, result: dict, size_bytes: int) -> str | None:
        """An error when the base64 response would exceed MAX_RESPONSE_BYTES, else None."""
        # Base64 needs no JSON escaping: the payload is the rest of the dict plus the encoded length.
        b64_len = 4 * ((size_bytes + 2) // 3)
        size = len(json.dumps({**result, "output_mode": "base64", "audio_base64": ""})) + b64_len
        limit = self.settings.max_response_bytes
        if size <= limit:
            return None
        advice = "shorter text or a lower sample_rate" if result["format"] in ("mp3", "ogg") \
            else 'format "mp3" or "ogg" (a tenth of the size), shorter text or a lower sample_rate'
        return (f"output: the response would be {size / 1e6:.2f} MB ({result['duration_ms'] / 1000:.0f} s of "
                f"{result['format']} at {result['sample_rate']} Hz), over the {limit / 1e6:.2f} MB limit "
                f"(MAX_RESPONSE_BYTES; RunPod drops results over 20 MB); ask for {advice}, "
                f'or configure a bucket for "output_mode": "url"')

    def _save_local_copy(self, job_id: str, fmt: str, data: bytes) -> None:
        out = self.settings.output_dir
        if not out:
            return
        safe_id = "".join(c if c.isalnum() or c in "-_" else "_" for c in job_id) or "job"
        path = os.path.join(out, f"{safe_id}.{fmt}")
        try:
            os.makedirs(out, exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
            log.info("job=%s audio written to %s", job_id, path)
        except OSError as e:
            log.warning("job=%s could not write the local copy to %s: %s", job_id, path, e)


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


def build_service(settings: Settings | None = None) -> TTSService:
    """Load the configured engine once and open the cache; logs how long the engine took."""
    settings = settings or Settings.from_env()
    t = time.perf_counter()
    engine = load_engine(settings.engine)
    cache = AudioCache(settings.cache_dir, settings.cache_max_bytes)
    log.info("engine %s ready in %.2f s (model %s %s on %s, %d Hz); cache at %s", engine.name,
             time.perf_counter() - t, engine.model_id, engine.model_version, engine.device, engine.sample_rate,
             cache.directory)
    return TTSService(engine, cache, settings)
