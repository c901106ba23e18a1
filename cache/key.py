"""Cache keys: SHA256 of a canonical JSON of everything that changes the audio bytes."""
from __future__ import annotations

import hashlib
import json

# Bump when the audio pipeline (joining, resampling, encoders) changes output for the same request.
PIPELINE_VERSION = 3  # 2: libsoxr resampling, deterministic Ogg serials; 3: Ogg pages every 200 ms


def cache_key(fields: dict) -> str:
    """Hex SHA256 of `fields` as canonical JSON (sorted keys, no spaces, UTF-8 kept)."""
    canonical = json.dumps({"pipeline": PIPELINE_VERSION, **fields}, sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
