"""Logging setup: INFO by default, one plain line per record on stdout (RunPod collects stdout)."""
from __future__ import annotations

import logging
import os
import sys


def setup_logging(sdk_level: str = "INFO") -> None:
    """Our log lines at LOG_LEVEL (INFO); the runpod SDK's at `sdk_level` unless RUNPOD_LOG_LEVEL says otherwise:
    it defaults to DEBUG, which prints whole job outputs (base64 audio) into the logs. Call before importing
    runpod (it reads its level then)."""
    os.environ.setdefault("RUNPOD_LOG_LEVEL", sdk_level)
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    root = logging.getLogger("tts")
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(levelname)-7s| %(name)s | %(message)s"))
    root.addHandler(handler)
    root.setLevel(level if level in logging.getLevelNamesMapping() else "INFO")
    root.propagate = False
