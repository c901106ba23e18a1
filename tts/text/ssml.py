"""SSML, the subset a TTS worker is asked for: <speak>, <p>, <s>, <break>, <say-as>, <sub>, <phoneme>.

Parsed with defusedxml (no DTDs, no entity expansion, no external references). An error names the tag and what is
wrong; the request then fails with a `text:` error. Text outside <say-as> is verbalized as plain text is; inside,
the interpret-as kind decides how it is read."""
from __future__ import annotations

import re
from collections.abc import Callable
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from tts.text.script import Segment

MAX_BREAK_MS = 10_000
STRENGTHS = {"none": 0, "x-weak": 100, "weak": 200, "medium": 400, "strong": 700, "x-strong": 1000}
SAY_AS = ("characters", "spell-out", "digits", "cardinal", "ordinal", "date", "time", "telephone")
TAGS = ("speak", "p", "s", "break", "say-as", "sub", "phoneme")
_TIME = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s)\s*")
_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_ORDINAL_SUFFIX = {1: "st", 2: "nd", 3: "rd"}


class SsmlError(ValueError):
    """The markup is not SSML this worker reads; the message names the tag and what is wrong."""


def is_ssml(text: str) -> bool:
    """Text that is an SSML document itself (the text_type "ssml" reads any text as SSML)."""
    return text.lstrip().startswith(("<speak", "<?xml"))


def parse(markup: str, read: Callable[[str], list[Segment]] | None = None,
          verbalize: Callable[[str], str] | None = None) -> list[Segment]:
    """The segments the markup speaks. `read` turns free text into segments (pronunciations, written forms read
    out); `verbalize` turns a <say-as> kind's written form into words (None: text as written)."""
    if not is_ssml(markup):
        markup = f"<speak>{markup}</speak>"
    try:
        root = SafeET.fromstring(markup, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as e:
        raise SsmlError(f"SSML with a DTD or entities is not accepted ({type(e).__name__})") from None
    except ParseError as e:
        raise SsmlError(f"not well-formed SSML: {e}") from None
    if _tag(root) != "speak":
        raise SsmlError(f"the root element must be <speak>, not <{_tag(root)}>")
    reader = _Reader(read or (lambda text: [Segment(text)]), verbalize or (lambda text: text))
    reader.element(root)
    return reader.segments


def _tag(element: Element) -> str:
    return element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else "?"


class _Reader:
    def __init__(self, read: Callable[[str], list[Segment]], verbalize: Callable[[str], str]):
        self.read, self.verbalize = read, verbalize
        self.segments: list[Segment] = []

    def say(self, text: str) -> None:
        """Words as they are (already read out)."""
        if text and text.strip():
            self.segments.append(Segment(text.strip()))

    def free(self, text: str) -> None:
        """Free text of the document: pronunciations and written forms apply."""
        if text and text.strip():
            self.segments.extend(self.read(text.strip()))

    def pause(self, ms: int) -> None:
        self.segments.append(Segment("", None, ms))

    def element(self, el: Element) -> None:
        tag = _tag(el)
        if tag not in TAGS:
            raise SsmlError(f"<{tag}> is not supported; supported: {', '.join(f'<{t}>' for t in TAGS)}")
        getattr(self, "tag_" + tag.replace("-", "_"))(el)

    def children(self, el: Element) -> None:
        self.free(el.text or "")
        for child in el:
            self.element(child)
            self.free(child.tail or "")

    def tag_speak(self, el: Element) -> None:
        self.children(el)

    def tag_s(self, el: Element) -> None:
        start = len(self.segments)
        self.children(el)
        self._end_sentence(start)

    def tag_p(self, el: Element) -> None:
        start = len(self.segments)
        self.children(el)
        self._end_sentence(start)
        self.pause(STRENGTHS["strong"])

    def _end_sentence(self, start: int) -> None:
        """The last words of an <s> or <p> end a sentence, so the engine's splitter sees the boundary."""
        for i in range(len(self.segments) - 1, start - 1, -1):
            seg = self.segments[i]
            if seg.phonemes is None and seg.text:
                if not seg.text.rstrip("\"'”’)]").endswith((".", "!", "?", "…")):
                    self.segments[i] = Segment(seg.text + ".", None, seg.pause_ms)
                return

    def tag_break(self, el: Element) -> None:
        _no_content(el)
        time, strength = el.get("time"), el.get("strength")
        if time is not None:
            m = _TIME.fullmatch(time)
            if m is None:
                raise SsmlError(f'<break time="{time[:20]}">: time must be like "500ms" or "1.5s"')
            ms = round(float(m.group(1)) * (1 if m.group(2) == "ms" else 1000))
            if ms > MAX_BREAK_MS:
                raise SsmlError(f'<break time="{time}">: at most {MAX_BREAK_MS // 1000} s')
        elif strength is not None:
            if strength not in STRENGTHS:
                raise SsmlError(f'<break strength="{strength[:20]}">: strength must be one of {", ".join(STRENGTHS)}')
            ms = STRENGTHS[strength]
        else:
            ms = STRENGTHS["medium"]
        self.pause(ms)

    def tag_sub(self, el: Element) -> None:
        alias = el.get("alias")
        if alias is None or not alias.strip():
            raise SsmlError("<sub> needs an alias attribute: the words to say instead")
        self.free(alias)

    def tag_phoneme(self, el: Element) -> None:
        alphabet, ph = el.get("alphabet", "ipa"), el.get("ph")
        if alphabet != "ipa":
            raise SsmlError(f'<phoneme alphabet="{alphabet[:20]}">: only alphabet="ipa" is supported')
        if ph is None or not ph.strip():
            raise SsmlError("<phoneme> needs a ph attribute: the pronunciation in IPA")
        self.segments.append(Segment(el.text or "", ph.strip().strip("/[]")))

    def tag_say_as(self, el: Element) -> None:
        kind = el.get("interpret-as")
        if kind not in SAY_AS:
            raise SsmlError(f'<say-as interpret-as="{(kind or "")[:20]}">: interpret-as must be one of '
                            f'{", ".join(SAY_AS)}')
        if len(el):
            raise SsmlError(f'<say-as interpret-as="{kind}"> must contain text only, not <{_tag(el[0])}>')
        text = (el.text or "").strip()
        if not text:
            raise SsmlError(f'<say-as interpret-as="{kind}"> is empty')
        self.say(self._read_as(kind, text))

    def _read_as(self, kind: str, text: str) -> str:
        if kind in ("characters", "spell-out"):
            return " ".join(_spell(c) for c in text if not c.isspace())
        if kind == "digits":
            return " ".join(_DIGIT_WORDS[int(c)] if c.isascii() and c.isdigit() else _spell(c)
                            for c in text if not c.isspace())
        if kind == "telephone":
            groups = re.findall(r"\d+", text)
            if not groups:
                raise SsmlError(f'<say-as interpret-as="telephone">: no digits in {text[:40]!r}')
            return ", ".join(" ".join(_DIGIT_WORDS[int(d)] for d in g) for g in groups)
        if kind in ("cardinal", "ordinal"):
            digits = text.replace(",", "")
            if not re.fullmatch(r"-?\d+", digits):
                raise SsmlError(f'<say-as interpret-as="{kind}">: {text[:40]!r} is not a whole number')
            if kind == "ordinal":
                n = abs(int(digits[-2:] if len(digits) > 1 else digits))
                digits += "th" if 10 <= n % 100 <= 20 else _ORDINAL_SUFFIX.get(n % 10, "th")
            return self.verbalize(digits)
        return self.verbalize(text)  # date, time: the written form, read as such


def _spell(char: str) -> str:
    if char.isascii() and char.isdigit():
        return _DIGIT_WORDS[int(char)]
    return char.upper() if char.isalpha() else char


def _no_content(el: Element) -> None:
    if (el.text or "").strip() or len(el):
        raise SsmlError(f"<{_tag(el)}> must be empty")
