"""Quantities with a unit: '10 km' -> 'ten kilometers', '3.5 GB', '72°F', '100 km/h', '50 m²' -> 'fifty square
meters', '5'11"' -> 'five feet eleven inches', '5-10%' -> 'five to ten percent', '3x' -> 'three times',
'2x4' -> 'two by four', '2 × 3' -> 'two times three', and powers: 'x^2' -> 'x squared', '10^6' -> '10 to the
power of six'.

A unit is only read after a number ('5 m', never the letter m alone); 's' only after a space ('5 s'; '5s' is
a plural); a hyphen or an article makes the unit an adjective, singular ('a 10-km run' -> 'a ten-kilometer run',
'a 2 TB drive' -> 'a two terabyte drive'). A lone '"' after a number is inches only before a lowercase word
and when it closes no quotation ('a 65" screen')."""
from __future__ import annotations

import re

from tts.text.number_words import NUMBER_PATTERN, cardinal, is_one, number, ordinal
from tts.text.rewrite import rewrite

# symbol -> (singular, plural). Case matters: 'mA' is not 'MA', 'Mb' (bits) is not 'MB' (bytes).
UNITS: dict[str, tuple[str, str]] = {
    "km": ("kilometer", "kilometers"), "m": ("meter", "meters"), "cm": ("centimeter", "centimeters"),
    "mm": ("millimeter", "millimeters"), "µm": ("micrometer", "micrometers"), "μm": ("micrometer", "micrometers"),
    "nm": ("nanometer", "nanometers"), "mi": ("mile", "miles"), "yd": ("yard", "yards"), "ft": ("foot", "feet"),
    "kg": ("kilogram", "kilograms"), "g": ("gram", "grams"), "mg": ("milligram", "milligrams"),
    "µg": ("microgram", "micrograms"), "μg": ("microgram", "micrograms"), "mcg": ("microgram", "micrograms"),
    "lb": ("pound", "pounds"), "lbs": ("pound", "pounds"), "oz": ("ounce", "ounces"),
    "t": ("tonne", "tonnes"),
    "l": ("liter", "liters"), "L": ("liter", "liters"), "ml": ("milliliter", "milliliters"),
    "mL": ("milliliter", "milliliters"), "cl": ("centiliter", "centiliters"), "dl": ("deciliter", "deciliters"),
    "dL": ("deciliter", "deciliters"), "gal": ("gallon", "gallons"), "qt": ("quart", "quarts"),
    "fl oz": ("fluid ounce", "fluid ounces"), "tbsp": ("tablespoon", "tablespoons"),
    "tsp": ("teaspoon", "teaspoons"), "cc": ("cubic centimeter", "cubic centimeters"),
    "s": ("second", "seconds"), "sec": ("second", "seconds"), "secs": ("second", "seconds"),
    "ms": ("millisecond", "milliseconds"), "µs": ("microsecond", "microseconds"),
    "μs": ("microsecond", "microseconds"), "ns": ("nanosecond", "nanoseconds"), "min": ("minute", "minutes"),
    "mins": ("minute", "minutes"), "h": ("hour", "hours"), "hr": ("hour", "hours"), "hrs": ("hour", "hours"),
    "yr": ("year", "years"), "yrs": ("year", "years"), "wk": ("week", "weeks"), "wks": ("week", "weeks"),
    "Hz": ("hertz", "hertz"), "kHz": ("kilohertz", "kilohertz"), "MHz": ("megahertz", "megahertz"),
    "GHz": ("gigahertz", "gigahertz"), "THz": ("terahertz", "terahertz"),
    "KB": ("kilobyte", "kilobytes"), "kB": ("kilobyte", "kilobytes"), "MB": ("megabyte", "megabytes"),
    "GB": ("gigabyte", "gigabytes"), "TB": ("terabyte", "terabytes"), "PB": ("petabyte", "petabytes"),
    "kb": ("kilobit", "kilobits"), "Mb": ("megabit", "megabits"), "Gb": ("gigabit", "gigabits"),
    "kbps": ("kilobit per second", "kilobits per second"), "Mbps": ("megabit per second", "megabits per second"),
    "Gbps": ("gigabit per second", "gigabits per second"),
    "W": ("watt", "watts"), "mW": ("milliwatt", "milliwatts"), "kW": ("kilowatt", "kilowatts"),
    "MW": ("megawatt", "megawatts"), "GW": ("gigawatt", "gigawatts"), "Wh": ("watt-hour", "watt-hours"),
    "kWh": ("kilowatt-hour", "kilowatt-hours"), "MWh": ("megawatt-hour", "megawatt-hours"),
    "GWh": ("gigawatt-hour", "gigawatt-hours"), "V": ("volt", "volts"), "mV": ("millivolt", "millivolts"),
    "kV": ("kilovolt", "kilovolts"), "mA": ("milliamp", "milliamps"), "mAh": ("milliamp-hour", "milliamp-hours"),
    "J": ("joule", "joules"), "kJ": ("kilojoule", "kilojoules"), "cal": ("calorie", "calories"),
    "kcal": ("kilocalorie", "kilocalories"), "Pa": ("pascal", "pascals"), "hPa": ("hectopascal", "hectopascals"),
    "kPa": ("kilopascal", "kilopascals"), "MPa": ("megapascal", "megapascals"), "atm": ("atmosphere", "atmospheres"),
    "psi": ("P S I", "P S I"), "dB": ("decibel", "decibels"), "mph": ("mile per hour", "miles per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"), "kmh": ("kilometer per hour", "kilometers per hour"),
    "fps": ("frame per second", "frames per second"), "rpm": ("revolution per minute", "revolutions per minute"),
    "bpm": ("beat per minute", "beats per minute"), "px": ("pixel", "pixels"), "ha": ("hectare", "hectares"),
    "sq ft": ("square foot", "square feet"), "sq mi": ("square mile", "square miles"),
    "sq m": ("square meter", "square meters"), "mmHg": ("millimeter of mercury", "millimeters of mercury"),
}
# Read after a number only across a space: '5 s' is five seconds, '5s' a plural; '5t' is a tag, not tonnes.
_SPACED_ONLY = frozenset({"s", "t"})
# Capital letters that are also compass points and grades: '5 W 34th St' is an address.
_NOT_BEFORE_NUMBER = frozenset({"W", "V", "J", "L"})
_LENGTHS = frozenset({"km", "m", "cm", "mm", "µm", "μm", "nm", "mi", "yd", "ft"})
# Only as the second half of a rate ('$15/hr', '5 km/day'): what these mean after a slash.
PER = {"day": "day", "d": "day", "week": "week", "month": "month", "mo": "month", "year": "year", "night": "night",
       "person": "person", "unit": "unit", "share": "share", "hour": "hour", "sq ft": "square foot"}


def _alternation(words) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_UNIT = _alternation(UNITS)
_PER = _alternation(set(UNITS) | set(PER))
_RANGE = rf"(?:\s?(?:[-–]|to)\s?(?P<n2>{NUMBER_PATTERN}))?"
_QUANTITY = re.compile(
    rf"(?<![\w.,])(?P<sign>[-−](?=[0-9]))?(?P<n>{NUMBER_PATTERN}){_RANGE}(?P<sep>\s?|-)(?P<unit>{_UNIT})"
    rf"(?P<exp>\^[23](?![0-9]))?(?:/(?P<per>{_PER})(?P<per_exp>\^[23](?![0-9]))?)?(?![\w^/]|\.[A-Za-z])")
_PERCENT = re.compile(rf"(?<![\w.,])(?P<sign>[-−+](?=[0-9]))?(?P<n>{NUMBER_PATTERN})"
                      rf"(?:\s?%?\s?(?:[-–]|to)\s?(?P<n2>{NUMBER_PATTERN}))?\s?(?P<sym>%|‰)")
_DEGREES = re.compile(rf"(?<![\w.,])(?P<sign>[-−+](?=[0-9]))?(?P<n>{NUMBER_PATTERN}){_RANGE}\s?"
                      rf"(?:°|º(?=\s?[CF]))(?:\s?(?P<scale>[CFK])(?![\w]))?")
_FEET = re.compile(r"(?<![\w.,'’])(?P<ft>[0-9]{1,2})\s?['′’]\s?(?P<inch>[0-9]{1,2}(?:\.[0-9]+)?)\s?(?:\"|″|''|”)"
                   r"|(?<![\w.,])(?P<ft_only>[0-9]{1,3})(?:′|'(?=\s(?:tall|high|long|wide|deep)\b))"
                   r"|(?<![\w.,])(?P<inch_only>[0-9]{1,3}(?:\.[0-9]+)?)(?:″|\"(?=\s[a-z]))")
_TIMES = re.compile(rf"(?<![\w.,])(?P<a>{NUMBER_PATTERN})\s?[x×]\s?(?P<b>{NUMBER_PATTERN})(?![\w.,]?[0-9])"
                    rf"|(?<![\w.,])(?P<n>{NUMBER_PATTERN})[x×](?=\s|$|[,.;:!?)])(?!\s?[-+=<>*/^])")
_POWER = re.compile(r"(?<=[\w)\]])\^(?P<sign>[-−+]?)(?P<exp>[0-9]{1,6})(?![0-9])")
_BASE = re.compile(r"[A-Za-z]+$")
_ARTICLE = re.compile(r"(?:^|\s)[Aa]n?\s$")
_SPACE_DIGIT = re.compile(r"\s[0-9]")


def _with_sign(sign: str | None, words: str) -> str:
    return f"minus {words}" if sign in ("-", "−") else f"plus {words}" if sign == "+" else words


def _amount(m: re.Match) -> str:
    """The number (or range) a quantity starts with, said."""
    said = _with_sign(m.group("sign"), number(m.group("n")))
    n2 = m.group("n2") if "n2" in m.re.groupindex else None
    return f"{said} to {number(n2)}" if n2 else said


def unit_name(symbol: str, singular: bool) -> str | None:
    names = UNITS.get(symbol)
    if names is None:
        per = PER.get(symbol)
        return per if singular else (per + "s" if per else None)
    return names[0 if singular else 1]


def _quantity(m: re.Match) -> str | None:
    unit, sep = m.group("unit"), m.group("sep")
    if unit in _SPACED_ONLY and sep != " ":
        return None
    if unit in _NOT_BEFORE_NUMBER and _SPACE_DIGIT.match(m.string, m.end()):
        return None
    # 'a 10-km run', 'a 2 TB drive': the unit describes what follows
    adjective = sep == "-" or bool(_ARTICLE.search(m.string, max(0, m.start() - 4), m.start()))
    singular = adjective or (is_one(m.group("n")) and not m.group("n2"))
    name = unit_name(unit, singular)
    if m.group("exp"):
        if unit in _LENGTHS:
            name = ("square " if m.group("exp") == "^2" else "cubic ") + name
        else:
            name += " squared" if m.group("exp") == "^2" else " cubed"
    if m.group("per"):
        name += f" per {unit_name(m.group('per'), True)}"
        if m.group("per_exp"):
            name += " squared" if m.group("per_exp") == "^2" else " cubed"
    return f"{_amount(m)}{'-' if sep == '-' else ' '}{name}"


def _percent(m: re.Match) -> str:
    return f"{_amount(m)} {'percent' if m.group('sym') == '%' else 'per mille'}"


def _degrees(m: re.Match) -> str:
    singular = is_one(m.group("n")) and not m.group("n2")
    scale = {"C": " Celsius", "F": " Fahrenheit", "K": " kelvin"}.get(m.group("scale") or "", "")
    return f"{_amount(m)} degree{'' if singular else 's'}{scale}"


def _feet(m: re.Match) -> str | None:
    if m.group("inch_only") is not None and m.group().endswith('"') and _quoted(m.string, m.start()):
        return None  # the closing quote of a quotation, not inches
    if m.group("ft") is not None:
        ft, inch = m.group("ft"), m.group("inch")
        return (f"{cardinal(ft)} {'foot' if ft == '1' else 'feet'} "
                f"{number(inch)} {'inch' if inch == '1' else 'inches'}")
    if m.group("ft_only") is not None:
        ft = m.group("ft_only")
        return f"{cardinal(ft)} {'foot' if ft == '1' else 'feet'}"
    inch = m.group("inch_only")
    singular = inch == "1" or bool(_ARTICLE.search(m.string, max(0, m.start() - 4), m.start()))
    return f"{number(inch)} {'inch' if singular else 'inches'}"


def _quoted(text: str, start: int) -> bool:
    """Whether a '"' at text[start:] would close a quotation opened shortly before."""
    return text.count('"', max(0, start - 80), start) % 2 == 1


def _times(m: re.Match) -> str:
    if m.group("a") is not None:
        spaced_times = "×" in m.group() and " " in m.group()
        return f"{number(m.group('a'))} {'times' if spaced_times else 'by'} {number(m.group('b'))}"
    return f"{number(m.group('n'))} times"


def _power(m: re.Match) -> str:
    exp, sign = m.group("exp"), m.group("sign")
    base = _BASE.search(m.string, max(0, m.start() - 4), m.start())
    if base and len(base.group()) > 2 and not sign:
        return f" {number(exp)}"  # after a word it marks a footnote: 'word^1' -> 'word one'
    if exp == "2" and not sign:
        return " squared"
    if exp == "3" and not sign:
        return " cubed"
    if sign in ("-", "−"):
        return f" to the minus {ordinal(exp) if exp != '1' else 'one'}"
    return f" to the power of {cardinal(exp)}"


def verbalize_measures(text: str) -> str:
    """Percentages, temperatures and angles, feet and inches, quantities with units, multipliers, powers."""
    for pattern, read in ((_PERCENT, _percent), (_DEGREES, _degrees), (_FEET, _feet), (_QUANTITY, _quantity),
                          (_TIMES, _times), (_POWER, _power)):
        text = rewrite(pattern, read, text)
    return text
