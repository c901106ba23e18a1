"""Sentences, clauses and chunks of normalized text."""
from __future__ import annotations

import re

# A sentence ends at . ! ? … (optionally followed by closing quotes/brackets) and whitespace.
_SENT_END = re.compile(r"(?<=[.!?…。！？])[\"'”’)\]]*\s+")
_CLAUSE = re.compile(r"(?<=[,;:—–])\s+")
# A period after these does not end a sentence ("Dr. Smith", "e.g. this").
_ABBREV = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "etc", "e.g", "i.e", "no", "vol",
    "fig", "approx", "inc", "ltd", "co", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept",
    "oct", "nov", "dec",
}


_INITIALISM = re.compile(r"(?:[A-Za-z]\.){2,}")   # "U.S.", "e.g.", "a.m."


def _is_abbreviation(before: str) -> bool:
    word = before.rsplit(" ", 1)[-1].lstrip("\"'“‘(")
    if not word.endswith("."):
        return False
    stem = word[:-1]
    # Single capital initials ("J. K. Rowling"), initialisms ("U.S. Army": splitting a phrase hurts prosody more
    # than joining two sentences does) and known abbreviations.
    return (len(stem) == 1 and stem.isalpha() and stem.isupper()) or bool(_INITIALISM.fullmatch(word)) \
        or stem.lower() in _ABBREV


def split_sentences(text: str) -> list[str]:
    """Sentences of normalized text, keeping their end punctuation."""
    out, start = [], 0
    for m in _SENT_END.finditer(text):
        head = text[start:m.end()].rstrip()
        nxt = text[m.end():m.end() + 1]
        if _is_abbreviation(head) or nxt.islower():
            continue
        out.append(head)
        start = m.end()
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return [s for s in out if s]


def clauses(sentence: str) -> list[str]:
    """A sentence cut after its clause punctuation (, ; : and dashes followed by a space): "3,000" and "3.14" stay
    whole. Where a stream can start speaking before a sentence ends."""
    return [c for c in _CLAUSE.split(sentence) if c]


def _split_long(sentence: str, max_chars: int) -> list[str]:
    """A sentence longer than max_chars, cut at clause punctuation, then at spaces, then hard."""
    pieces: list[str] = []
    for clause in clauses(sentence):
        while len(clause) > max_chars:
            cut = clause.rfind(" ", 0, max_chars + 1)
            if cut <= 0:
                cut = max_chars
            pieces.append(clause[:cut].strip())
            clause = clause[cut:].strip()
        if clause:
            pieces.append(clause)
    return _pack(pieces, max_chars)


def _pack(pieces: list[str], max_chars: int) -> list[str]:
    chunks: list[str] = []
    for piece in pieces:
        if chunks and len(chunks[-1]) + 1 + len(piece) <= max_chars:
            chunks[-1] = f"{chunks[-1]} {piece}"
        else:
            chunks.append(piece)
    return chunks


def chunk(text: str, max_chars: int) -> list[str]:
    """Normalized text cut into chunks of at most max_chars, at sentence boundaries where possible.

    Consecutive short sentences share a chunk; a sentence over the limit is cut at clauses, then words."""
    pieces: list[str] = []
    for sentence in split_sentences(text):
        pieces.extend(_split_long(sentence, max_chars) if len(sentence) > max_chars else [sentence])
    return _pack(pieces, max_chars)
