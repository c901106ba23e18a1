"""The front end: a request's text, as the engine will speak it. The same for every engine:

    SSML (opt-in) -> segments; pronunciations (the request's, then a stored lexicon's) -> written forms read as numbers,
    dates, amounts, units, ... (normalize) -> letters the engine cannot read refused, or transliterated when asked

What it returns (a Script) is what the cache key hashes. Pure: no I/O; a stored lexicon comes in as its entries."""
from __future__ import annotations

import unicodedata
from collections.abc import Callable

from tts.text import lexicon, ssml
from tts.text.script import Script, Segment, joined
from tts.text.verbalize import spoken


class FrontEndError(ValueError):
    """The text cannot be spoken as asked; `field` is the request field to change."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


def prepare(text: str, *, as_ssml: bool = False, normalize: bool = True, pronunciations: dict | None = None,
            phonemes: bool = False, scripts: tuple[str, ...] = ("LATIN",), transliterate: bool = False,
            verbalize: Callable[[str], str] = spoken) -> Script:
    """`text` (cleaned) -> the script to speak. `phonemes`: the engine takes IPA; `scripts`: the Unicode scripts whose
    letters it reads; `verbalize`: written forms -> words (used when `normalize`)."""
    entries = pronunciations or {}
    words = verbalize if normalize else (lambda t: t)

    def read(free: str) -> list[Segment]:
        out = []
        for seg in lexicon.apply([Segment(free)], entries):
            out.append(seg if seg.phonemes is not None else Segment(words(seg.text), None, seg.pause_ms))
        return out

    if as_ssml or ssml.is_ssml(text):
        try:
            segments = ssml.parse(text, read=read, verbalize=words)
        except ssml.SsmlError as e:
            raise FrontEndError("text", str(e)) from None
    else:
        segments = read(text)
    if transliterate:
        segments = [Segment(_transliterate(s.text), s.phonemes, s.pause_ms) if s.phonemes is None else s
                    for s in segments]
    script = joined(segments)
    for seg in script:
        if seg.phonemes is not None and not phonemes:
            raise FrontEndError("text", f"the pronunciation /{seg.phonemes[:40]}/ (for {seg.text[:40]!r}) is IPA, "
                                        "which this engine cannot speak; give the words to say instead (a <sub "
                                        "alias> or a pronunciation in plain words)")
        if seg.phonemes is None:
            foreign = unreadable(seg.text, scripts)
            if foreign:
                name, sample = foreign
                raise FrontEndError("text", f"has {name.title()} letters ({sample!r}), which this engine does not "
                                            "read (it reads " + ", ".join(s.title() for s in scripts)
                                            + ' script); send "transliterate": true to read them as Latin letters')
    return script


def unreadable(text: str, scripts: tuple[str, ...]) -> tuple[str, str] | None:
    """(script, a sample) of the first letters of `text` in a script not in `scripts`, or None."""
    for i, char in enumerate(text):
        if not unicodedata.category(char).startswith("L"):
            continue
        script = _script(char)
        if script not in scripts:
            end = i
            while end < len(text) and end - i < 20 and (not unicodedata.category(text[end]).startswith("L")
                                                         or _script(text[end]) == script):
                end += 1
            return script, text[i:end].strip()
    return None


def _script(char: str) -> str:
    """The Unicode script of a letter, from its name (LATIN SMALL LETTER A -> LATIN; CJK UNIFIED IDEOGRAPH -> CJK)."""
    return unicodedata.name(char, "UNKNOWN ?").split(" ", 1)[0]


def _transliterate(text: str) -> str:
    from anyascii import anyascii

    return anyascii(text)
