"""How a finished result reaches the caller: base64 in the output, or a bucket URL when asked for or when
base64 would be too large. Raises OutputError when neither can be done."""
from __future__ import annotations

import base64
import json
import logging
import os

from tts import formats
from tts.errors import OutputError
from tts.request import SynthesisRequest
from tts.result import Result
from tts.upload import URL_EXPIRES_S, Bucket, upload

log = logging.getLogger("tts.delivery")


def deliver(result: Result, data: bytes, output_mode: str, bucket: Bucket | None, max_response_bytes: int,
            deadline: float | None = None) -> dict:
    """The output fields that carry the audio (output_mode, audio_base64 | audio_url, url_expires_s); an upload
    ends by `deadline` (time.monotonic(), the job's budget) at the latest."""
    too_big = None if output_mode == "url" else oversize(result, len(data), max_response_bytes)
    if too_big and bucket is None:
        raise OutputError(too_big)
    if output_mode == "base64" and not too_big:
        return {"output_mode": "base64", "audio_base64": base64.b64encode(data).decode("ascii")}
    try:
        name = f"{result.cache_key}.{formats.get(result.format).extension}"
        url = upload(bucket, data, name, result.mimetype, deadline)
    except Exception as e:  # noqa: BLE001 - boto raises many types; the job fails with the reason
        raise OutputError(f"could not upload to bucket {bucket.name!r} at {bucket.endpoint_url}: "
                          f"{type(e).__name__}: {e}") from e
    return {"output_mode": "url", "audio_url": url, "url_expires_s": URL_EXPIRES_S}


_B64_OVERHEAD = 2000  # the rest of the output dict, generously


def _base64_size(raw_bytes: float) -> float:
    return 4 * raw_bytes / 3 + _B64_OVERHEAD


def _advice(fmt: str) -> str:
    if formats.get(fmt).lossy:
        return "shorter text or a lower sample_rate"
    *some, last = [f'"{c.name}"' for c in formats.FORMATS.values() if c.lossy]
    return f"format {', '.join(some)} or {last} (a tenth of the size), shorter text or a lower sample_rate"


def refuse_certain_oversize(r: SynthesisRequest, max_chars_per_second: float, limit: int) -> None:
    """Before synthesis: refuse uncompressed output that is too large even if the voice spoke as fast as it
    ever does (compressed sizes are not predictable enough to refuse on)."""
    sample_bytes = formats.get(r.format).sample_bytes
    if sample_bytes is None:
        return
    seconds = len(r.text) / (max_chars_per_second * r.speed)
    if r.max_audio_length_ms is not None:
        seconds = min(seconds, r.max_audio_length_ms / 1000)
    size = _base64_size(seconds * r.sample_rate * sample_bytes)
    if size > limit:
        raise OutputError(f"the response would be at least {size / 1e6:.2f} MB (at least {seconds:.0f} s of "
                          f"{r.format} at {r.sample_rate} Hz for {len(r.text)} characters), over the "
                          f"{limit / 1e6:.2f} MB limit (MAX_RESPONSE_BYTES; RunPod drops results over 20 MB); ask "
                          f'for {_advice(r.format)}, or configure a bucket for "output_mode": "url"')


def refuse_growing_oversize(r: SynthesisRequest, seconds: float, encoded_bytes: int, limit: int) -> None:
    """During synthesis: stop as soon as what is encoded so far is already too large to return."""
    size = _base64_size(encoded_bytes)
    if size > limit:
        raise OutputError(f"the response would be over {size / 1e6:.2f} MB ({seconds:.0f} s of {r.format} at "
                          f"{r.sample_rate} Hz so far, and more text to speak), over the {limit / 1e6:.2f} MB "
                          f"limit (MAX_RESPONSE_BYTES; RunPod drops results over 20 MB); ask for "
                          f'{_advice(r.format)}, or configure a bucket for "output_mode": "url"')


def oversize(result: Result, size_bytes: int, limit: int) -> str | None:
    """Why the base64 response would exceed `limit` bytes, or None when it fits."""
    # Base64 needs no JSON escaping: the payload is the rest of the dict plus the encoded length.
    b64_len = 4 * ((size_bytes + 2) // 3)
    size = len(json.dumps({**result.output(), "output_mode": "base64", "audio_base64": ""})) + b64_len
    if size <= limit:
        return None
    advice = _advice(result.format)
    return (f"the response would be {size / 1e6:.2f} MB ({result.duration_ms / 1000:.0f} s of "
            f"{result.format} at {result.sample_rate} Hz), over the {limit / 1e6:.2f} MB limit "
            f"(MAX_RESPONSE_BYTES; RunPod drops results over 20 MB); ask for {advice}, "
            f'or configure a bucket for "output_mode": "url"')


def local_copy_path(output_dir: str, job_id: str, fmt: str) -> str:
    safe_id = "".join(c if c.isalnum() or c in "-_" else "_" for c in job_id) or "job"
    return os.path.join(output_dir, f"{safe_id}.{formats.get(fmt).extension}")


def save_local_copy(output_dir: str, job_id: str, fmt: str, data: bytes) -> str | None:
    """Write the audio to <output_dir>/<job id>.<fmt> (local development); the path, or None on failure."""
    path = local_copy_path(output_dir, job_id, fmt)
    try:
        os.makedirs(output_dir, exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    except OSError as e:
        log.warning("job=%s could not write the local copy to %s: %s", job_id, path, e)
        return None
    log.info("job=%s audio written to %s", job_id, path)
    return path
