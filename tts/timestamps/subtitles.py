"""Words with times -> a subtitle file (SRT or WebVTT): cues of a few words, broken at sentence ends, long pauses
and a line length a reader can follow."""
from __future__ import annotations

FORMATS = ("srt", "vtt")
MAX_CHARS = 42          # one subtitle line (the usual broadcast limit)
MAX_CUE_MS = 5000       # a cue on screen at most this long
PAUSE_MS = 500          # a silence this long starts a new cue
_ENDS = (".", "!", "?", "…")


def cues(words: list[dict]) -> list[tuple[int, int, str]]:
    """(start_ms, end_ms, text) per cue."""
    out: list[tuple[int, int, str]] = []
    line: list[dict] = []

    def close() -> None:
        if line:
            out.append((line[0]["start_ms"], line[-1]["end_ms"], " ".join(w["word"] for w in line)))
            line.clear()

    for w in words:
        if line:
            text = " ".join(x["word"] for x in line) + " " + w["word"]
            if (len(text) > MAX_CHARS or w["start_ms"] - line[-1]["end_ms"] >= PAUSE_MS
                    or w["end_ms"] - line[0]["start_ms"] > MAX_CUE_MS or line[-1]["word"].endswith(_ENDS)):
                close()
        line.append(w)
    close()
    return out


def render(words: list[dict], fmt: str) -> str:
    """The subtitle file's text; `fmt` is "srt" or "vtt"."""
    sep = "," if fmt == "srt" else "."
    blocks = []
    for i, (start, end, text) in enumerate(cues(words), 1):
        times = f"{_clock(start, sep)} --> {_clock(max(end, start + 1), sep)}"
        blocks.append(f"{i}\n{times}\n{text}\n" if fmt == "srt" else f"{times}\n{text}\n")
    body = "\n".join(blocks)
    return body if fmt == "srt" else "WEBVTT\n\n" + body


def _clock(ms: int, sep: str) -> str:
    h, rest = divmod(int(ms), 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"
