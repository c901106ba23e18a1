"""Number words from ASCII digit strings: cardinals, ordinals, years, decimals, fractions, digit by digit.

American style: "one hundred twenty-three" (no "and" inside a number: "and" is left for cents and fractions).
Every function takes strings, not ints, so a run of any length is read without int()'s digit limit, and
returns its input unchanged when that is not what it reads (never raises)."""
from __future__ import annotations

import re

ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
        "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
SCALES = ("", "thousand", "million", "billion", "trillion", "quadrillion", "quintillion", "sextillion",
          "septillion", "octillion", "nonillion", "decillion")
# A plain run longer than this is an identifier (an account, a serial), read digit by digit; with thousands
# separators the writer meant a quantity, which is named up to the last scale word.
MAX_PLAIN_DIGITS = 15
_ORDINAL_WORDS = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                  "nine": "ninth", "twelve": "twelfth"}
# A written number: thousands separators in valid groups of three, and decimals ('1,234.56', '0.5', '12').
NUMBER_PATTERN = r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?"
_DIGITS = re.compile(r"[0-9]+")
_GROUPED = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+")
_NUMBER = re.compile(r"(?P<int>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]*)(?:\.(?P<frac>[0-9]+))?")
# Fractions read with a word of their own (halves, quarters); other denominators are ordinals (fifths).
_DENOMINATORS = {"2": ("half", "halves"), "4": ("quarter", "quarters")}


def is_digits(text: str) -> bool:
    return _DIGITS.fullmatch(text) is not None


def say_digits(digits: str) -> str:
    """'4567' -> 'four five six seven' (every digit a word, zero as 'zero')."""
    return " ".join(ONES[ord(c) - 48] for c in digits if "0" <= c <= "9")


def _below_thousand(n: int) -> list[str]:
    words: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words += [ONES[hundreds], "hundred"]
    if rest >= 20:
        words.append(TENS[rest // 10] + (f"-{ONES[rest % 10]}" if rest % 10 else ""))
    elif rest:
        words.append(ONES[rest])
    return words


def cardinal(digits: str) -> str:
    """'1234' -> 'one thousand two hundred thirty-four'. Past the last scale word (36 digits), digit by digit.

    Leading zeros are ignored ('007' -> 'seven'); callers that mean them read say_digits."""
    if not is_digits(digits):
        return digits
    digits = digits.lstrip("0")
    if not digits:
        return "zero"
    if len(digits) > 3 * len(SCALES):
        return say_digits(digits)
    words: list[str] = []
    count = (len(digits) + 2) // 3
    head = len(digits) - 3 * (count - 1)
    for i in range(count):
        group = int(digits[:head] if i == 0 else digits[head + 3 * (i - 1):head + 3 * i])
        if group:
            words += _below_thousand(group)
            scale = SCALES[count - 1 - i]
            if scale:
                words.append(scale)
    return " ".join(words)


def _ordinal_word(word: str) -> str:
    head, dash, last = word.rpartition("-")
    if last in _ORDINAL_WORDS:
        last = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return head + dash + last


def ordinal(digits: str) -> str:
    """'21' -> 'twenty-first', '100' -> 'one hundredth', '12' -> 'twelfth'."""
    if not is_digits(digits):
        return digits
    words = cardinal(digits)
    head, space, last = words.rpartition(" ")
    return head + space + _ordinal_word(last)


def plural(words: str) -> str:
    """The plural of a number's last word, as in decades and 'in fives': 'nineteen ninety' -> 'nineteen nineties'."""
    head, space, last = words.rpartition(" ")
    stem, dash, tail = last.rpartition("-")
    if tail.endswith("y"):
        tail = tail[:-1] + "ies"
    elif tail.endswith("x"):
        tail += "es"
    else:
        tail += "s"
    return head + space + stem + dash + tail


def year(digits: str) -> str:
    """How a year is said: '1999' -> 'nineteen ninety-nine', '1905' -> 'nineteen oh five', '1900' -> 'nineteen
    hundred', '2005' -> 'two thousand five', '2010' -> 'twenty ten'. Other lengths are cardinals."""
    if not is_digits(digits) or len(digits) != 4 or digits[0] == "0":
        return cardinal(digits)
    high, low = int(digits[:2]), int(digits[2:])
    if high % 10 == 0 and low < 10:          # 1000, 2000, 2005: the thousands are said
        return cardinal(digits)
    if low == 0:
        return f"{cardinal(digits[:2])} hundred"
    if low < 10:
        return f"{cardinal(digits[:2])} oh {ONES[low]}"
    return f"{cardinal(digits[:2])} {cardinal(digits[2:])}"


def decimal(integer: str, fraction: str) -> str:
    """'3', '14' -> 'three point one four'; an empty integer part is not said ('.5' -> 'point five')."""
    head = integer_words(integer) if integer else ""
    tail = f"point {say_digits(fraction)}" if fraction else ""
    return f"{head} {tail}".strip()


def integer_words(written: str) -> str:
    """An integer as written, with or without thousands separators: a valid '1,234,567' is a cardinal to the last
    scale word and its groups digit by digit past it; a plain run is a cardinal up to MAX_PLAIN_DIGITS, digits
    beyond; a leading zero means digits ('007' -> 'zero zero seven')."""
    if _GROUPED.fullmatch(written):
        groups = written.split(",")
        if len(groups) <= len(SCALES):
            return cardinal("".join(groups))
        return ", ".join(say_digits(g) for g in groups)
    if not is_digits(written):
        return written
    if len(written) > 1 and written[0] == "0":
        return say_digits(written)
    if len(written) > MAX_PLAIN_DIGITS:
        return say_digits(written)
    return cardinal(written)


def number(written: str) -> str:
    """A number as written, unsigned: '1,234.5' -> 'one thousand two hundred thirty-four point five'."""
    m = _NUMBER.fullmatch(written)
    if not m or not (m.group("int") or m.group("frac")):
        return written
    integer, fraction = m.group("int"), m.group("frac") or ""
    if integer == "0" and fraction:
        return f"zero {decimal('', fraction)}"
    return decimal(integer, fraction)


def is_one(written: str) -> bool:
    """Whether a quantity takes the singular ('1 km', not '1.0 km' or '0.5 km')."""
    return written.lstrip("+-−") == "1"


def fraction(numerator: str, denominator: str) -> str | None:
    """'3', '4' -> 'three quarters'; '1', '2' -> 'one half'; '5', '8' -> 'five eighths'. None for a denominator
    of 0 or 1 (not a fraction anyone reads as one)."""
    if not (is_digits(numerator) and is_digits(denominator)) or denominator.lstrip("0") in ("", "1"):
        return None
    denominator = denominator.lstrip("0")
    one = numerator.lstrip("0") == "1"
    if denominator in _DENOMINATORS:
        word = _DENOMINATORS[denominator][0 if one else 1]
    else:
        word = ordinal(denominator) if one else plural(ordinal(denominator))
    return f"{cardinal(numerator)} {word}"
