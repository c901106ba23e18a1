"""Pronunciations: words said another way. An entry maps a written form to the words to say ("Nginx": "engine x") or,
written between slashes, to IPA ("Nginx": "/ˈɛndʒɪn ɛks/") for engines that take phonemes. Applied before
numbers and dates are read, to whole words only, the longest written form first, case as written."""
from __future__ import annotations

import re

from tts.text.script import Segment

MAX_ENTRIES = 1000
MAX_WRITTEN = 100
MAX_SPOKEN = 300


def is_ipa(spoken: str) -> bool:
    return len(spoken) >= 3 and spoken.startswith("/") and spoken.endswith("/")


def check(entries: object, field: str) -> dict[str, str]:
    """`entries` as a clean {written: spoken} dict; ValueError names the entry and what is wrong."""
    if not isinstance(entries, dict):
        raise ValueError(f'must be an object of written form -> pronunciation, e.g. {{"Nginx": "engine x"}}; '
                         f"got {type(entries).__name__}")
    if len(entries) > MAX_ENTRIES:
        raise ValueError(f"has {len(entries)} entries; at most {MAX_ENTRIES}")
    out = {}
    for written, spoken in entries.items():
        if not isinstance(written, str) or not 1 <= len(written.strip()) <= MAX_WRITTEN \
                or not any(c.isalnum() for c in written):
            raise ValueError(f"{written!r:.40}: a written form is 1 to {MAX_WRITTEN} characters with a letter or "
                             "digit")
        if not isinstance(spoken, str) or not 1 <= len(spoken.strip()) <= MAX_SPOKEN:
            raise ValueError(f"{written!r:.40}: the pronunciation must be 1 to {MAX_SPOKEN} characters of text, or "
                             "IPA between slashes")
        out[written.strip()] = spoken.strip()
    return out


def apply(segments: list[Segment], entries: dict[str, str]) -> list[Segment]:
    """The segments with every entry's written form replaced where it stands as a whole word."""
    if not entries:
        return segments
    written = sorted(entries, key=len, reverse=True)
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in written) + r")(?!\w)")
    out: list[Segment] = []
    for seg in segments:
        if seg.phonemes is not None or not seg.text:
            out.append(seg)
            continue
        at, text = 0, ""
        for m in pattern.finditer(seg.text):
            spoken = entries[m.group()]
            text += seg.text[at:m.start()]
            if is_ipa(spoken):  # sounds, not words: a segment of its own
                out.append(Segment(text))
                out.append(Segment(m.group(), spoken[1:-1].strip()))
                text = ""
            else:
                text += spoken
            at = m.end()
        out.append(Segment(text + seg.text[at:], None, seg.pause_ms))
    return out
