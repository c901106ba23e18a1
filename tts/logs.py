"""Logging setup: INFO by default, one plain line per record on stdout (RunPod collects stdout)."""
from __future__ import annotations

import logging
import os
import sys


def setup_logging() -> None:
    # The runpod SDK defaults to DEBUG, which prints whole job outputs (base64 audio) into the logs.
    os.environ.setdefault("RUNPOD_LOG_LEVEL", "INFO")
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    root = logging.getLogger("tts")
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(levelname)-7s| %(name)s | %(message)s"))
    root.addHandler(handler)
    root.setLevel(level if level in logging.getLevelNamesMapping() else "INFO")
    root.propagate = False
