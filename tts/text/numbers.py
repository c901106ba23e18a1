"""The numbers no other verbalizer claimed: cardinals of any length, decimals, signs, ordinals ('21st'),
fractions ('3/4', '1 1/2'), plurals ('in 5s'), scale letters ('5M', '2.5bn'), ranges ('10-20' -> 'ten to
twenty'), ratios and scores ('16:9' -> 'sixteen to nine'; clock times are times.py's), versions and addresses
('1.2.3', '192.168.0.1'), and digits inside words ('MP3' -> 'MP three').

Last, read_remaining_digits says any digit still left, so no digit ever reaches an engine's own reader."""
from __future__ import annotations

import re
import unicodedata

from tts.text.dates import MONTHS
from tts.text.number_words import (
    NUMBER_PATTERN,
    ONES,
    cardinal,
    fraction,
    integer_words,
    is_digits,
    number,
    ordinal,
    plural,
    say_digits,
)
from tts.text.rewrite import rewrite

_DOTTED = re.compile(r"(?:(?<![\w.,])|(?<=[vV]))(?P<parts>[0-9]{1,9}(?:\.[0-9]{1,9}){2,})(?![\w]|\.[0-9])")
_FRACTION = re.compile(r"(?<![\w.,/])(?:(?P<whole>[0-9]{1,9})\s)?(?P<a>[0-9]{1,9})/(?P<b>[0-9]{1,9})"
                       r"(?![\w/]|[.,][0-9])")
_ORDINAL = re.compile(r"(?<![0-9.,])(?P<n>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?P<suffix>st|nd|rd|th|ST|ND|RD|TH)"
                      r"(?![A-Za-z])")
_PLURAL = re.compile(r"(?<![\w.,])(?P<n>[0-9]{1,9})['’]?s(?![\w'’])")
_SCALED = re.compile(rf"(?<![\w.,])(?P<sign>[-−](?=[0-9]))?(?P<n>{NUMBER_PATTERN})(?P<scale>bn|mn|tn|[kM])(?![\w])")
_RANGE = re.compile(rf"(?<![\w.,+−-])(?P<sign>[-−](?=[0-9]))?(?P<a>{NUMBER_PATTERN})(?P<dash>\s?[-–—]\s?)"
                    rf"(?P<b>{NUMBER_PATTERN})(?![\w]|[.,][0-9]|-[0-9])")
_NUMBER = re.compile(rf"(?P<sign>(?<![\w.,+−-])[-−+](?=\.?[0-9]))?(?<![0-9])(?<![0-9]\.)"
                     rf"(?P<n>{NUMBER_PATTERN}|(?<![\w.])\.[0-9]+)")
_RATIO = re.compile(r"(?<![\w.:,])(?P<a>[0-9]{1,4}):(?P<b>[0-9]{1,4})(?![\w:]|[.,][0-9])")
_DIGITS = re.compile(r"[0-9]+")
_SCALES = {"k": "thousand", "M": "million", "mn": "million", "bn": "billion", "tn": "trillion"}
# Said as people say them, not as fractions or dates.
_IDIOMS = {("24", "7"): "twenty-four seven", ("50", "50"): "fifty-fifty", ("20", "20"): "twenty twenty",
           ("9", "11"): "nine eleven"}
_EQUALS_AFTER = re.compile(r"\s*[0-9.,]*\s*(?:=|equals\b)")


def _spaced(said: str, m: re.Match) -> str:
    """said, apart from a letter it touches ('MP3' -> 'MP three', '3D' -> 'three D')."""
    text, start, end = m.string, m.start(), m.end()
    if start and (text[start - 1].isalpha() or text[start - 1] == ","):
        said = " " + said
    if end < len(text) and text[end].isalpha():
        said += " "
    return said


def _signed(sign: str | None, words: str) -> str:
    return f"minus {words}" if sign in ("-", "−") else f"plus {words}" if sign == "+" else words


def _dotted(m: re.Match) -> str:
    parts = m.group("parts").split(".")
    address = len(parts) == 4 and all(len(p) <= 3 and int(p) <= 255 for p in parts)
    said = (" dot " if address else " point ").join(integer_words(p) if p[0] != "0" or p == "0" else say_digits(p)
                                                    for p in parts)
    return _spaced(said, m)


def _fraction(m: re.Match) -> str | None:
    whole, a, b = m.group("whole"), m.group("a"), m.group("b")
    if not whole and (a, b) in _IDIOMS:
        return _IDIOMS[(a, b)]
    na, nb = int(a), int(b)
    proper = 0 < na < nb and (nb <= 10 or nb in (16, 32, 64, 100))
    if whole:
        if not proper or nb == 100:
            return None  # '3 1/12' is not a mixed number anyone writes; the parts are read alone
        part = "a half" if (na, nb) == (1, 2) else "a quarter" if (na, nb) == (1, 4) else fraction(a, b)
        return f"{integer_words(whole)} and {part}"
    if nb in (10, 100) and 1 < na <= nb:
        return f"{cardinal(a)} out of {cardinal(b)}"  # ratings: '9/10', '95/100'
    if proper or (nb <= 10 and na > nb and nb > 1):
        return fraction(a, b)
    if 1 <= na <= 12 and 1 <= nb <= 31 and len(a) <= 2 and len(b) <= 2:
        return f"{MONTHS[na - 1]} {ordinal(b)}"  # a date without a year, month first
    return f"{integer_words(a)} slash {integer_words(b)}"


def _ordinal(m: re.Match) -> str:
    return _spaced(ordinal(m.group("n").replace(",", "")), m)


def _plural(m: re.Match) -> str:
    return plural(integer_words(m.group("n")))


def _scaled(m: re.Match) -> str:
    return _signed(m.group("sign"), f"{number(m.group('n'))} {_SCALES[m.group('scale')]}")


def _range(m: re.Match) -> str:
    after = m.string[m.end():m.end() + 24]
    if m.group("dash").strip() in ("-", "−") and m.group("dash") != m.group("dash").strip() \
            and _EQUALS_AFTER.match(after):
        joint = " minus "  # '5 - 3 = 2' is arithmetic
    else:
        joint = " to "
    return _spaced(_signed(m.group("sign"), number(m.group("a"))) + joint + number(m.group("b")), m)


def _number(m: re.Match) -> str:
    n = m.group("n")
    said = number(n) if "." in n or "," in n or is_digits(n) else n
    return _spaced(_signed(m.group("sign"), said), m)


def _ratio(m: re.Match) -> str:
    return f"{integer_words(m.group('a'))} to {integer_words(m.group('b'))}"


def _remaining(m: re.Match) -> str:
    return _spaced(integer_words(m.group()), m)


def verbalize_numbers(text: str) -> str:
    """Every number left in text said as words (see the module's docstring)."""
    for pattern, read in ((_DOTTED, _dotted), (_FRACTION, _fraction), (_RATIO, _ratio), (_ORDINAL, _ordinal),
                          (_PLURAL, _plural), (_SCALED, _scaled), (_RANGE, _range), (_NUMBER, _number)):
        text = rewrite(pattern, read, text)
    return text


def read_remaining_digits(text: str) -> str:
    """Any digit still in text said: ASCII runs as numbers, any other digit character as its digit's word."""
    if _DIGITS.search(text):
        text = _DIGITS.sub(_remaining, text)
    if not text.isascii() and any(c.isdigit() for c in text):
        text = "".join(f" {ONES[unicodedata.digit(c)]} " if c.isdigit() else c for c in text)
    return text
