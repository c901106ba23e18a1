"""The worker's numbers in one thread-safe place: the `health` action reads them, GET /metrics (HTTP mode) publishes
them in the Prometheus text format. Each service has its own registry (tests build many services)."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from tts.events import KINDS

CONTENT_TYPE = CONTENT_TYPE_LATEST
_SECONDS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_RTF = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 5)


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self._jobs = Counter("tts_jobs", "Jobs taken, by what they were (synthesis, action, or invalid: not parsed)",
                             ["type"], registry=r)
        self._failed = Counter("tts_job_failures", "Jobs that failed, by kind (input, output, timeout, busy, engine, "
                                                   "internal)", ["kind"], registry=r)
        self._cache = Counter("tts_cache_lookups", "Cache lookups of synthesis jobs, by result (hit, miss)",
                              ["result"], registry=r)
        self._synthesized = Counter("tts_synthesized", "Results synthesized by the engine", registry=r)
        self._chunks = Counter("tts_chunks_synthesized", "Text chunks synthesized by the engine", registry=r)
        self._audio = Counter("tts_audio_seconds", "Seconds of audio synthesized", registry=r)
        self.first_audio = Histogram("tts_time_to_first_audio_seconds", "Streamed jobs: from the job's start to "
                                     "its first audio bytes", buckets=_SECONDS, registry=r)
        self.job_seconds = Histogram("tts_job_seconds", "Synthesis jobs: time in the worker, cache hits included",
                                     buckets=_SECONDS, registry=r)
        self.rtf = Histogram("tts_real_time_factor", "Synthesized results: generation time / audio length",
                             buckets=_RTF, registry=r)
        self._gauges: dict[str, Gauge] = {}

    # -- counting ------------------------------------------------------------------------------------
    def job(self, kind: str) -> None:
        self._jobs.labels(kind).inc()

    def failed(self, kind: str) -> None:
        self._failed.labels(kind).inc()

    def cache_lookup(self, hit: bool) -> None:
        self._cache.labels("hit" if hit else "miss").inc()

    def synthesized(self, chunks: int, audio_s: float, generation_s: float) -> None:
        self._synthesized.inc()
        self._chunks.inc(chunks)
        self._audio.inc(audio_s)
        if audio_s > 0:
            self.rtf.observe(generation_s / audio_s)

    def gauge(self, name: str, documentation: str, read) -> None:
        """A gauge whose value is read() at each scrape (queue depth, batch occupancy)."""
        if name not in self._gauges:
            self._gauges[name] = Gauge(name, documentation, registry=self.registry)
        self._gauges[name].set_function(read)

    # -- reading -------------------------------------------------------------------------------------
    def value(self, name: str, labels: dict | None = None) -> float:
        return self.registry.get_sample_value(name, labels or {}) or 0.0

    def counts(self) -> dict[str, int]:
        """The health report's job counts."""
        failed = sum(self.value("tts_job_failures_total", {"kind": k}) for k in KINDS)
        return {"jobs": int(self.value("tts_jobs_total", {"type": "synthesis"})
                            + self.value("tts_jobs_total", {"type": "action"})
                            + self.value("tts_jobs_total", {"type": "invalid"})),
                "failed": int(failed),
                "cache_hits": int(self.value("tts_cache_lookups_total", {"result": "hit"})),
                "synthesized": int(self.value("tts_synthesized_total")),
                "chunks_synthesized": int(self.value("tts_chunks_synthesized_total"))}

    def text(self) -> bytes:
        """Everything, in the Prometheus text format."""
        return generate_latest(self.registry)
