"""Symbols said as words where they stand for one: '&' -> 'and', '#5' -> 'number 5', '@name' -> 'at name',
'1 + 1 = 2' -> '1 plus 1 equals 2', '18+' -> '18 plus', '~5' -> 'about 5', '±', '≈', '≤', '≥', '≠', '÷',
and '−' (the minus sign) between terms ('×' is measures.py's: 'two by four', 'two times three'). Symbols
elsewhere stay as written ('C++', 'a == b')."""
from __future__ import annotations

import re

from tts.text.rewrite import rewrite

_SAID = {"&": " and ", "=": " equals ", "+": " plus ", "÷": " divided by ", "±": " plus or minus ",
         "∓": " minus or plus ", "≈": " approximately ", "≠": " is not equal to ", "≤": " less than or equal to ",
         "≥": " greater than or equal to ", "<": " less than ", ">": " greater than ", "−": " minus "}
_SYMBOL = re.compile(
    r"\s*&\s*(?![#\w]+;)"                                                      # not an HTML entity
    r"|(?<=[\w)])\s*(?<![=<>!])=(?!=)\s*(?=[\w(−-])"                            # x = 5, not a == b
    r"|(?<=[\w)%])\s*\+\s*(?=[0-9($€£¥₹])|(?<=[\w)])\s+\+\s+(?=[\w(])"      # 1 + 1, 2+3, x + y
    r"|(?<=[0-9])\+(?![\w+])"                                                   # 18+
    r"|(?<=[\w)])\s*[÷≈≠≤≥∓−]\s*(?=[\w(])"                                      # between terms
    r"|(?<=[0-9])\s+[<>]\s+(?=[0-9])"                                           # 3 < 5 (spaced only: not tags)
    r"|(?<![\w±])±\s*(?=[0-9])"                                                 # ±5
    r"|(?<![\w≈])≈\s*(?=[0-9$€£])")                                             # ≈5
_HASH = re.compile(r"(?<![\w&#])#(?=[0-9])")
_AT = re.compile(r"(?<![\w@])@(?=[A-Za-z_])")
_ABOUT = re.compile(r"(?<![\w~])~\s?(?=[0-9$€£¥₹])")


def _symbol(m: re.Match) -> str:
    said = _SAID[m.group().strip()]
    text, start, end = m.string, m.start(), m.end()
    if start == 0 or text[start - 1].isspace():
        said = said.lstrip()
    if end == len(text) or text[end].isspace() or text[end] in ",.;:!?)":
        said = said.rstrip()
    return said


def verbalize_symbols(text: str) -> str:
    """&, #, @, ~ and the math symbols said where they stand for a word."""
    text = rewrite(_HASH, lambda m: "number ", text)
    text = rewrite(_AT, lambda m: "at ", text)
    text = rewrite(_ABOUT, lambda m: "about ", text)
    return rewrite(_SYMBOL, _symbol, text)
