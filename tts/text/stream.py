"""Text that streams in (a language model's tokens) -> segments to speak as soon as they are whole: the session
door's policy of when to start speaking, on the splitter's rules (tts/text/split.py)."""
from __future__ import annotations

import re

from tts.text.split import clauses, split_sentences

FIRST_CLAUSE_CHARS = 12          # a context's first segment may be a clause this long: speech starts sooner
LONG_CLAUSE_CHARS = 150          # later, a sentence is cut at clauses only once it is this long
_EAGER_END = re.compile(r"[A-Za-z][!?][\"'”’)\]]*$")   # "...right?" at the end: no word or number goes on after
_EAGER_CLAUSE = re.compile(r"[A-Za-z][,;]$")           # "Well," ("3,000" has a digit before its comma)


class Segmenter:
    """A context's text as it streams in -> segments to speak, never cut inside a word, number or abbreviation
    (tts/text/split.py's rules). A sentence is committed once the next non-space character shows it ended (or at
    once after ! or ?), a context's first clause once it has FIRST_CLAUSE_CHARS, a sentence's clauses once it is
    LONG_CLAUSE_CHARS long; what has waited max_wait_ms is spoken up to its last whole word."""

    def __init__(self, max_wait_ms: int):
        self.max_wait_s = max_wait_ms / 1000
        self.text = ""
        self.since: float | None = None   # when the oldest waiting character came
        self.segments = 0                 # committed so far

    def add(self, piece: str, now: float) -> list[str]:
        if piece and self.since is None:
            self.since = now
        self.text += piece
        out = []
        while (cut := self._cut()) is not None:
            out.append(self._take(cut, now))
        return [s for s in out if s]

    def due(self, now: float) -> list[str]:
        """Segments whose wait ran out (what the reader calls when a context's timer fires)."""
        if self.since is None or now - self.since < self.max_wait_s:
            return []
        stripped = self.text.rstrip()
        cut = len(stripped) if _ends_sentence(stripped) else self.text.rfind(" ", 0, len(stripped))
        if cut <= 0:
            self.since = now   # one word so far, which may not be whole yet: look again after another wait
            return []
        return [s for s in [self._take(cut, now)] if s]

    def deadline(self) -> float | None:
        return None if self.since is None else self.since + self.max_wait_s

    def flush(self) -> list[str]:
        rest = self.text.strip()
        self.text, self.since = "", None
        return [rest] if rest else []

    def _take(self, cut: int, now: float) -> str:
        segment, self.text = self.text[:cut].strip(), self.text[cut:]
        self.since = now if self.text.strip() else None   # what is left starts its wait again
        if segment:
            self.segments += 1
        return segment

    def _cut(self) -> int | None:
        text = self.text
        sentences = split_sentences(text)
        if len(sentences) > 1:
            return _end_of(text, sentences[0])
        if not sentences:
            return None
        sentence = sentences[0]
        if _EAGER_END.search(sentence):
            return _end_of(text, sentence)
        limit = FIRST_CLAUSE_CHARS if self.segments == 0 else LONG_CLAUSE_CHARS
        if len(sentence) < limit:
            return None
        parts = clauses(sentence)
        if len(parts) > 1 and len(parts[0]) >= min(limit, FIRST_CLAUSE_CHARS):
            return _end_of(text, parts[0])
        if len(parts) == 1 and _EAGER_CLAUSE.search(sentence.rstrip()) and len(sentence) >= limit:
            return _end_of(text, sentence)
        return None


def _end_of(text: str, head: str) -> int:
    """Where `head` (a stripped prefix of the stripped text) ends in `text`."""
    return text.find(head) + len(head)


def _ends_sentence(text: str) -> bool:
    return bool(text) and len(split_sentences(text + " X")) > 1
