"""The one line `python handler.py` prints about its job, for a person at a terminal."""
from __future__ import annotations

from tts.delivery import local_copy_path


def summary(job_id: str, result: dict, output_dir: str | None) -> str:
    if "error" in result:
        return f"{job_id}: FAILED: {result['error']}"
    if "duration_ms" not in result:  # an action
        return f"{job_id}: done: {', '.join(sorted(result))}"
    where = local_copy_path(output_dir, job_id, result["format"]) if output_dir else "the output (base64)"
    if result.get("audio_url"):
        where = "the bucket"
    cache = "cache hit" if result["cache_hit"] else "generated"
    return (f"{job_id}: wrote {where}: {result['duration_ms'] / 1000:.1f} s of {result['format']} at "
            f"{result['sample_rate']} Hz, {result['size_bytes'] / 1000:.1f} kB, {cache} in "
            f"{result['generation_time_ms'] / 1000:.2f} s")
