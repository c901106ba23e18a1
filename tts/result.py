"""What a synthesis job made: the metadata every door reports in its own shape (the queue's output, the HTTP
headers of /generate/audio, the WebSocket's last frame, a stream's last item)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace


@dataclass(frozen=True)
class Result:
    # In the order the output shows them (README: "Response: output").
    mimetype: str
    format: str
    sample_rate: int
    duration_ms: int
    size_bytes: int               # bytes of the file; for a stream, the bytes it sent
    cache_hit: bool
    cache_key: str
    engine: str
    model: str
    voice: str | None
    device: str
    generation_time_ms: float
    chunks_processed: int
    warnings: tuple[str, ...] = ()
    first_audio_ms: float | None = None   # streamed jobs: when the first audio bytes left
    words: tuple[dict, ...] | None = None  # timestamps: [{"word", "start_ms", "end_ms"}] on the file's clock
    subtitles: str | None = None          # the words as an SRT or WebVTT file
    delivered: dict = field(default_factory=dict)  # output_mode and audio_base64 | audio_url, url_expires_s

    def delivered_as(self, fields: dict) -> Result:
        return replace(self, delivered=fields)

    def output(self) -> dict:
        """The job's output JSON (the queue handler's, POST /generate's)."""
        out = asdict(self)
        out["warnings"] = list(self.warnings)
        for name in ("first_audio_ms", "words", "subtitles"):
            if out[name] is None:
                del out[name]
        if self.words is not None:
            out["words"] = list(self.words)
        del out["delivered"]
        return {**out, **self.delivered}
