"""The first step for any text: Unicode NFC, invisible characters removed, whitespace collapsed."""
from __future__ import annotations

import re
import unicodedata

_WS = re.compile(r"\s+")


def clean(text: str) -> str:
    """Unicode NFC, invisible format characters (zero-width spaces, BOMs, soft hyphens) removed, every
    run of whitespace (newlines included) collapsed to one space, trimmed.

    Case is kept: it changes pronunciation ("US" vs "us")."""
    if not text.isascii():  # ASCII is already NFC and has no format characters
        text = unicodedata.normalize("NFC", text)
        text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    return _WS.sub(" ", text).strip()
