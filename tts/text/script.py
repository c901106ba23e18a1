"""What the front end hands an engine: segments of speech, each words to say or sounds to make, and the silence after
it. The cache key hashes the script, so it is what is actually spoken that names a result."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Segment:
    text: str = ""                  # words to say (already spoken forms when normalization is on)
    phonemes: str | None = None     # or sounds to make, in the engine's phoneme alphabet (engines with "phonemes")
    pause_ms: int | None = None     # silence after it; None: the engine's own pause between sentences

    def key(self) -> list:
        return [self.text, self.phonemes, self.pause_ms]


Script = tuple[Segment, ...]


def joined(segments: list[Segment]) -> Script:
    """Adjacent word segments with no pause of their own between them become one (fewer, longer engine calls);
    empty ones go."""
    out: list[Segment] = []
    for seg in segments:
        if not seg.text.strip() and seg.phonemes is None:
            if seg.pause_ms is not None and out:
                last = out[-1]
                out[-1] = Segment(last.text, last.phonemes, (last.pause_ms or 0) + seg.pause_ms)
            elif seg.pause_ms is not None:
                out.append(seg)
            continue
        last = out[-1] if out else None
        if last is not None and last.phonemes is None and seg.phonemes is None and last.pause_ms is None:
            out[-1] = Segment(_join(last.text, seg.text.strip()), None, seg.pause_ms)
        else:
            out.append(Segment(seg.text.strip(), seg.phonemes, seg.pause_ms))
    return tuple(out)


def _join(left: str, right: str) -> str:
    if not left:
        return right
    return left + right if right[:1] in ",.;:!?)]}”’" else f"{left} {right}"


def spoken_text(script: Script) -> str:
    """The script's words, as one string (for checks and logs; phonemes appear as /.../)."""
    return " ".join(s.text if s.phonemes is None else f"/{s.phonemes}/" for s in script if s.text or s.phonemes)
