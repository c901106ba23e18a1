"""How every verbalizer rewrites text: each match of a pattern replaced by what a reader says for it.

A reader that returns None, or fails on a form nobody foresaw, leaves its match as written (a later, plainer
reader or the last digit pass reads it), so one odd token never costs the rest of the text. A replacement
that begins a sentence begins with a capital, since sentence splitters (ours and the engines') take a lowercase
word after a period for the middle of a sentence."""
from __future__ import annotations

import logging
import re
from collections.abc import Callable

log = logging.getLogger("tts.text")

Reader = Callable[[re.Match], "str | None"]
_CLOSERS = "\"'”’)]"
# A period after one of these is not the end of a sentence (split.py's list and the titles).
_NOT_ENDS = frozenset({
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "etc", "e.g", "i.e", "no", "vol", "fig",
    "approx", "inc", "ltd", "co", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
    "dec", "ca", "p", "pp", "ch", "gen", "capt", "lt", "col", "sgt", "rev", "hon", "gov", "sen", "rep",
})


def starts_sentence(text: str, index: int) -> bool:
    """Whether text[index] is the first character of a sentence that follows another one in text."""
    i = index - 1
    spaces = 0
    while i >= 0 and text[i].isspace() and spaces < 4:
        i, spaces = i - 1, spaces + 1
    if not spaces:
        return False
    closers = 0
    while i >= 0 and text[i] in _CLOSERS and closers < 3:
        i, closers = i - 1, closers + 1
    if i < 0 or text[i] not in ".!?…":
        return False
    if text[i] != ".":
        return True
    start = i
    while start > 0 and i - start < 8 and not text[start - 1].isspace():
        start -= 1
    word = text[start:i].lstrip("\"'“‘(").lower()
    return word not in _NOT_ENDS and not (len(word) == 1 and word.isalpha())


def capitalized(words: str) -> str:
    return words[:1].upper() + words[1:]


def rewrite(pattern: re.Pattern, read: Reader, text: str) -> str:
    """text with each match of pattern replaced by read(match); None or an exception keeps the match."""
    def replace(m: re.Match) -> str:
        try:
            said = read(m)
        except Exception:  # noqa: BLE001 - a reader's bug must cost one token, never the request
            log.warning("text: could not read %r", m.group()[:80], exc_info=True)
            return m.group()
        if said is None:
            return m.group()
        if said and said[0].islower() and starts_sentence(m.string, m.start()):
            return capitalized(said)
        return said

    return pattern.sub(replace, text)
