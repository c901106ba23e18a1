"""spoken(): English text with every written form (numbers, amounts, dates, times, units, abbreviations,
addresses, Roman numerals, digits of any script) turned into the words a person reads aloud.

Each verbalizer is a module named for what it reads; they run in this order because earlier forms contain
later ones (an e-mail address holds dots and digits, a date holds numbers, an amount holds a decimal):

    digits.py         every Unicode digit form folded to ASCII (scripts, fullwidth, super/subscripts, ½)
    web.py            e-mail addresses, URLs
    phones.py         phone numbers
    symbols.py        & # @ ~ and math symbols
    dates.py          ISO, numeric and written dates, year ranges, decades, eras
    times.py          clock times, am/pm
    money.py          currency symbols and ISO codes, cents, scales
    measures.py       percentages, degrees, units, feet and inches, multipliers, powers
    abbreviations.py  titles, street types, vs., etc., e.g., No.
    roman.py          Roman numerals in context
    dates.py          bare years
    numbers.py        every other number; then any digit left is said
"""
from __future__ import annotations

import logging

from tts.text.abbreviations import verbalize_abbreviations
from tts.text.dates import verbalize_dates, verbalize_years
from tts.text.digits import fold
from tts.text.measures import verbalize_measures
from tts.text.money import verbalize_money
from tts.text.numbers import read_remaining_digits, verbalize_numbers
from tts.text.phones import verbalize_phones
from tts.text.roman import verbalize_roman
from tts.text.symbols import verbalize_symbols
from tts.text.times import verbalize_times
from tts.text.web import verbalize_web

log = logging.getLogger("tts.text")

VERBALIZERS = (fold, verbalize_web, verbalize_phones, verbalize_symbols, verbalize_dates, verbalize_times,
               verbalize_money, verbalize_measures, verbalize_abbreviations, verbalize_roman, verbalize_years,
               verbalize_numbers)


def spoken(text: str) -> str:
    """text (NFC, whitespace collapsed: tts.text.clean's output) as a person reads it aloud; everything that is
    not a written form comes back unchanged. Never raises for a string, and never leaves a digit (of any
    script) in what it returns. American readings: numeric dates month first ('12/03/2026' is December
    third), no 'and' inside numbers ('one hundred twenty-three')."""
    if not isinstance(text, str):
        raise TypeError(f"spoken() takes a str, not {type(text).__name__}")
    for verbalize in VERBALIZERS:
        try:
            text = verbalize(text)
        except Exception:  # noqa: BLE001 - a verbalizer's bug must cost its forms, never the request
            log.warning("text: %s failed; its forms are left to the next verbalizers", verbalize.__name__,
                        exc_info=True)
    try:
        return read_remaining_digits(text)
    except Exception:  # noqa: BLE001 - the last guard: say each digit alone
        log.warning("text: read_remaining_digits failed", exc_info=True)
        return "".join(f" {c} " if c.isdigit() else c for c in text)
