"""Every way Unicode writes a digit, folded to ASCII so the readers after this one see only 0-9.

Digits of every script (Arabic-Indic, Devanagari, fullwidth, mathematical bold ...) become ASCII digits in
place, so a number mixing scripts is one number. A superscript run after a letter, digit or bracket becomes
an exponent, '^2' (measures.py says 'squared', or a footnote's number); a lone one is a digit. Subscripts
are digits in place ('H₂O' -> 'H2O'); circled and parenthesized numbers stand apart as numbers; vulgar
fractions become 'a/b' ('1½' -> '1 1/2'); Roman numeral characters become letters after a word, for roman.py
to read in context ('Henry Ⅷ' -> 'Henry VIII'), and digits elsewhere ('Ⅻ' -> '12'); the rest of the fullwidth
block becomes its ASCII twin."""
from __future__ import annotations

import re
import unicodedata

_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻", "0123456789+-")
_SUPERSCRIPT_RUN = re.compile(r"[⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻]+")
_SUBSCRIPTS = "₀₁₂₃₄₅₆₇₈₉"
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_SEPARATORS = {"٫": ".", "٬": ",", "⁄": "/", "∕": "/", "\u3000": " "}


def _superscript(m: re.Match) -> str:
    run = m.group().translate(_SUPERSCRIPT)
    text, start, end = m.string, m.start(), m.end()
    before = text[start - 1] if start else " "
    if before.isalnum() or before in ")]":
        return "^" + run + (" " if end < len(text) and text[end].isdigit() else "")  # '1²3': not 1^23
    return run


def _padded(word: str, m: re.Match) -> str:
    """word, spaced from a letter or digit it touches ('①②' -> '1 2')."""
    text, start, end = m.string, m.start(), m.end()
    if start and text[start - 1].isascii() and text[start - 1].isalnum():
        word = " " + word
    if end < len(text) and text[end].isalnum():
        word += " "
    return word


def _after_word(m: re.Match) -> bool:
    """Whether a word and a space come just before the match ('Henry Ⅷ')."""
    start = m.start()
    return start >= 2 and m.string[start - 1] == " " and m.string[start - 2].isalpha()


def _char(m: re.Match) -> str:
    c = m.group()
    code = ord(c)
    if 0xFF01 <= code <= 0xFF5E:                       # fullwidth ASCII
        return chr(code - 0xFEE0)
    if c in _SEPARATORS:
        return _SEPARATORS[c]
    if c.isdecimal():                                  # Nd of any script: a digit in place
        return str(unicodedata.decimal(c))
    if c in _SUBSCRIPTS:
        return str(unicodedata.digit(c))
    category = unicodedata.category(c)
    if category not in ("No", "Nl"):
        if 0xFFE0 <= code <= 0xFFEE:                   # fullwidth signs: ￥ ￡ ￠
            return unicodedata.normalize("NFKC", c)
        return c
    value = unicodedata.numeric(c, None)
    if value is None:
        return c
    compat = unicodedata.normalize("NFKC", c)
    if "⁄" in compat:                                  # a vulgar fraction
        return _padded(compat.replace("⁄", "/"), m)
    if category == "Nl" and compat.isascii() and compat.isalpha() and _after_word(m):
        return _padded(compat.upper(), m)              # 'Henry Ⅷ': roman.py reads it in context
    if value != int(value) or value < 0:
        return c
    return _padded(str(int(value)), m)


def fold(text: str) -> str:
    """text with every digit form in ASCII (see the module's docstring); ASCII text comes back as it is."""
    if text.isascii():
        return text
    text = _SUPERSCRIPT_RUN.sub(_superscript, text)
    return _NON_ASCII.sub(_char, text)
