"""Phone numbers, read digit by digit in their groups: '+1 (555) 123-4567' -> 'plus one, five five five, one two
three, four five six seven'. A phone number is what no other number looks like: a country code ('+44 20 7946
0958'), an area code in brackets, the North American 3-3-4 shape ('555-123-4567', '1-800-555-1234',
'555.123.4567') or a local 3-4 with a hyphen ('123-4567')."""
from __future__ import annotations

import re

from tts.text.number_words import say_digits
from tts.text.rewrite import rewrite

_SEP = r"[ .-]"
_PHONE = re.compile(
    r"(?<![\w.+/,-])(?:"
    # international: + country code, then two to five groups
    r"\+[0-9]{1,3}(?:[ .-]?\([0-9]{1,4}\)|[ .-][0-9]{1,5}){2,5}"
    # North American, optionally with a leading 1: (555) 123-4567, 555-123-4567, 1-800-555-1234
    r"|(?:1[ .-])?(?:\([0-9]{3}\)\s?|[0-9]{3}" + _SEP + r")[0-9]{3}" + _SEP + r"[0-9]{4}"
    # local: 123-4567
    r"|[0-9]{3}-[0-9]{4}"
    r")(?![\w-]|[.,][0-9])")
_GROUP = re.compile(r"[0-9]+")


def _phone(m: re.Match) -> str | None:
    groups = _GROUP.findall(m.group())
    if sum(len(g) for g in groups) < 7:
        return None
    said = ", ".join(say_digits(g) for g in groups)
    return f"plus {said}" if m.group().startswith("+") else said


def verbalize_phones(text: str) -> str:
    """Phone numbers in text said digit by digit."""
    return rewrite(_PHONE, _phone, text)
