"""Dates and years, as said: 'March third, twenty twenty-five', 'the third of March', 'the nineteen nineties'.

Numeric dates are read month first, the US way: '12/03/2026' is December third (a first number over 12 can
only be a day: '13/03/2026' is March thirteenth). Two-digit years are read as written ('3/12/05': 'oh five'),
not guessed into a century. A bare four-digit number from 1000 to 2099 is read as a year ('in 1999',
'1999 was') unless a plural noun follows it without a year word before it ('1500 people': a count); after
'year' any four digits are ('the year 2100')."""
from __future__ import annotations

import re

from tts.text.number_words import cardinal, integer_words, is_digits, ordinal, plural, year
from tts.text.rewrite import rewrite

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
_ABBREVIATED = {"Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "Jun": 6, "Jul": 7, "Aug": 8, "Sep": 9, "Sept": 9,
                "Oct": 10, "Nov": 11, "Dec": 12}
_MONTH_NUMBER = {name: i for i, name in enumerate(MONTHS, 1)} | _ABBREVIATED
_DAYS_IN = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
# A full name, or an abbreviation with its optional period (a period after a full name ends a sentence).
_MONTH = (r"(?:(?P<{0}>January|February|March|April|May|June|July|August|September|October|November|December)"
          r"|(?P<{0}_abbr>Sept|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\.?)(?![\w])")
_SUFFIX = r"(?:st|nd|rd|th)?"
_YEAR_TAIL = r"(?:,?\s(?P<year>[0-9]{4})(?![0-9]|[.,][0-9]))?"

_ISO = re.compile(r"(?<![\w.:/-])(?P<y>[0-9]{4})-(?P<m>[0-9]{2})-(?P<d>[0-9]{2})"
                  r"(?:(?P<t>T(?=[0-9]))|(?![\w-]|[.,][0-9]))")
_NUMERIC = re.compile(r"(?<![\w.:/,-])(?P<a>[0-9]{1,2})(?P<sep>[/.-])(?P<b>[0-9]{1,2})(?P=sep)"
                      r"(?P<y>[0-9]{4}|(?<=/)[0-9]{2})(?![\w/-]|[.,][0-9])")
_MONTH_DAY = re.compile(r"(?<![\w])" + _MONTH.format("month") + r"\s(?P<d>[0-9]{1,2})" + _SUFFIX
                        + r"(?:\s?[-–]\s?(?P<d2>[0-9]{1,2})" + _SUFFIX + r")?(?![\w:%]|[.,][0-9])" + _YEAR_TAIL)
_DAY_MONTH = re.compile(r"(?<![\w.,])(?P<the>[Tt]he\s)?(?P<d>[0-9]{1,2})" + _SUFFIX
                        + r"(?:\s?[-–]\s?(?P<d2>[0-9]{1,2})" + _SUFFIX + r")?\s(?P<of>of\s)?"
                        + _MONTH.format("month") + _YEAR_TAIL)
_MONTH_YEAR = re.compile(r"(?<![\w])" + _MONTH.format("month")
                         + r"\s(?P<of>of\s)?(?P<year>[0-9]{4})(?![0-9]|[.,][0-9])")
_YEAR_RANGE = re.compile(r"(?<![\w.,/$€£¥₹#-])(?P<a>[0-9]{4})\s?[-–]\s?(?P<b>[0-9]{4}|[0-9]{2})(?![\w%°-]|[.,/][0-9])")
_DECADE = re.compile(r"(?<![\w.,'’])(?P<apostrophe>['’])?(?P<n>[0-9]{2}|[0-9]{3}0)['’]?s(?![\w'’])")
_ERA = re.compile(r"(?<![\w.,])(?P<n>[0-9]{1,4})\s?(?P<era>BCE|BC|CE|AD|B\.C\.E\.|B\.C\.|C\.E\.|A\.D\.)(?![\w])"
                  r"|(?<![\w])(?P<era_first>AD|A\.D\.)\s?(?P<n_after>[0-9]{1,4})(?![\w.,]?[0-9])")
_BARE_YEAR = re.compile(r"(?<![\w.,$€£¥₹#/:+-])(?P<n>[0-9]{4})(?![\w%°/:-]|[.,][0-9])")
_AFTER_YEAR = re.compile(r"\b[Yy]ear\s$")
_NEXT_WORD = re.compile(r"\s([a-z]+)")
_WORD_BEFORE = re.compile(r"([A-Za-z]+)\s$")
# After these a four-digit number is a year even before a plural ("in 1999 prices rose").
_YEAR_WORDS = frozenset({
    "in", "since", "by", "from", "until", "till", "of", "during", "circa", "year", "before", "after", "around",
    "early", "late", "mid", "spring", "summer", "autumn", "fall", "winter", "through", "between", "and", "to",
    "at", "for", "c", "ca", "on",
})
_PLURALS = frozenset({"people", "men", "women", "children", "feet", "teeth", "mice", "geese", "staff", "sheep"})
# Words ending in s that do not make a number a count ("1999 was").
_NOT_PLURAL = frozenset({
    "was", "is", "has", "as", "its", "this", "does", "his", "hers", "us", "yes", "plus", "thus", "less", "versus",
    "across", "always", "perhaps", "unless", "besides", "whereas", "saw", "sees", "says", "gets", "marks", "sets",
    "brings", "means", "becomes", "remains", "begins", "ends", "seems", "looks", "goes", "comes", "makes",
})


def _valid(month: int, day: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= _DAYS_IN[month - 1]


def _year_words(digits: str) -> str:
    """A year as written: four digits as a year, two as said on their own ('05' -> 'oh five')."""
    if len(digits) == 2:
        return f"oh {cardinal(digits[1])}" if digits[0] == "0" else cardinal(digits)
    return year(digits)


def _date(month: int, day: int, year_digits: str | None) -> str | None:
    if not _valid(month, day):
        return None
    said = f"{MONTHS[month - 1]} {ordinal(str(day))}"
    return f"{said}, {_year_words(year_digits)}" if year_digits else said


def _month(m: re.Match) -> int:
    return _MONTH_NUMBER[m.group("month") or m.group("month_abbr")]


def _iso(m: re.Match) -> str:
    said = _date(int(m.group("m")), int(m.group("d")), m.group("y"))
    if said is None:  # not a calendar date ('2026-02-30'): its numbers as written
        return " dash ".join(integer_words(m.group(k)) for k in "ymd")
    if m.group("t"):
        said += ", "  # 2026-03-12T15:45: the time follows, read by times.py
    return said


def _numeric(m: re.Match) -> str | None:
    a, b = int(m.group("a")), int(m.group("b"))
    month, day = (a, b) if a <= 12 else (b, a)
    return _date(month, day, m.group("y"))


def _days(m: re.Match) -> str | None:
    first, second = int(m.group("d")), m.group("d2")
    month = _month(m)
    if not _valid(month, first) or (second and not (_valid(month, int(second)) and int(second) > first)):
        return None
    said = ordinal(str(first))
    return f"{said} to {ordinal(second)}" if second else said


def _month_day(m: re.Match) -> str | None:
    days = _days(m)
    if days is None:
        return None
    said = f"{MONTHS[_month(m) - 1]} {days}"
    return f"{said}, {year(m.group('year'))}" if m.group("year") else said


def _day_month(m: re.Match) -> str | None:
    days = _days(m)
    if days is None:
        return None
    said = f"{m.group('the') or 'the '}{days} of {MONTHS[_month(m) - 1]}"
    return f"{said}, {year(m.group('year'))}" if m.group("year") else said


def _month_year(m: re.Match) -> str:
    return f"{MONTHS[_month(m) - 1]} {m.group('of') or ''}{year(m.group('year'))}"


def _year_range(m: re.Match) -> str | None:
    a, b = m.group("a"), m.group("b")
    if len(b) == 2:
        b = a[:2] + b
    if not (1000 <= int(a) < int(b) <= 2099):
        return None
    return f"{year(a)} to {year(b)}"


def _decade(m: re.Match) -> str | None:
    n = m.group("n")
    if len(n) == 4:
        return plural(year(n))
    if n[1] != "0":
        return None  # '45s' is not a decade: numbers.py says 'forty-fives'
    if n == "00":
        return "two thousands"
    return plural(cardinal(n))


def _era(m: re.Match) -> str:
    if m.group("era_first"):
        return f"{m.group('era_first')} {year(m.group('n_after'))}"
    return f"{year(m.group('n'))} {m.group('era')}"


def is_year_context(text: str, start: int, end: int) -> bool:
    """Whether the four digits at text[start:end] read as a year (see the module's docstring)."""
    after = _NEXT_WORD.match(text, end, min(len(text), end + 40))
    word = after.group(1) if after else ""
    if word not in _PLURALS and (not word.endswith("s") or word in _NOT_PLURAL or len(word) < 3):
        return True
    before = _WORD_BEFORE.search(text, max(0, start - 24), start)
    return bool(before) and before.group(1).lower() in _YEAR_WORDS


def _bare_year(m: re.Match) -> str | None:
    n = m.group("n")
    if not is_digits(n):
        return None
    if _AFTER_YEAR.search(m.string, max(0, m.start() - 6), m.start()):
        return year(n)  # 'the year 2100'
    if not (1000 <= int(n) <= 2099 and is_year_context(m.string, m.start(), m.end())):
        return None
    return year(n)


def verbalize_dates(text: str) -> str:
    """ISO, numeric and written dates, year ranges, decades and eras (years on their own: verbalize_years)."""
    for pattern, read in ((_ISO, _iso), (_NUMERIC, _numeric), (_MONTH_DAY, _month_day), (_DAY_MONTH, _day_month),
                          (_MONTH_YEAR, _month_year), (_YEAR_RANGE, _year_range), (_DECADE, _decade), (_ERA, _era)):
        text = rewrite(pattern, read, text)
    return text


def verbalize_years(text: str) -> str:
    """Bare four-digit years; run after money and measures have read amounts ('$1999', '2000 km')."""
    return rewrite(_BARE_YEAR, _bare_year, text)
