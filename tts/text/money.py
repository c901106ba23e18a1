"""Amounts of money: '$4.50' -> 'four dollars and fifty cents', '$1.00' -> 'one dollar', '€1,234.56',
'£0.99' -> 'ninety-nine pence', '$5 million' and '$2.5bn' -> '... billion dollars', 'USD 5' and '5 EUR',
'$5-10' -> 'five to ten dollars', '$15/hr' -> 'fifteen dollars per hour', '50¢' -> 'fifty cents', '50p' ->
'fifty pence' (one or two digits: '1080p' is a resolution).

Cents are read when there are one or two decimals; more decimals, or a currency without a minor unit (yen),
read as a decimal number. After 'a' a whole amount is an adjective: 'a $5 fee' -> 'a five dollar fee'."""
from __future__ import annotations

import re
from typing import NamedTuple

from tts.text.measures import PER, UNITS, unit_name
from tts.text.number_words import NUMBER_PATTERN, cardinal, integer_words, is_one, number
from tts.text.rewrite import rewrite


class Currency(NamedTuple):
    one: str
    many: str
    minor_one: str | None = None
    minor_many: str | None = None


_DOLLAR = Currency("dollar", "dollars", "cent", "cents")
_EURO = Currency("euro", "euros", "cent", "cents")
_POUND = Currency("pound", "pounds", "penny", "pence")
_YEN = Currency("yen", "yen")
_RUPEE = Currency("rupee", "rupees", "paisa", "paise")
SYMBOLS = {
    "$": _DOLLAR, "€": _EURO, "£": _POUND, "¥": _YEN, "₹": _RUPEE, "₩": Currency("won", "won"),
    "₽": Currency("ruble", "rubles", "kopeck", "kopecks"), "₺": Currency("lira", "lira", "kurus", "kurus"),
    "₪": Currency("shekel", "shekels", "agora", "agorot"), "₱": Currency("peso", "pesos", "centavo", "centavos"),
    "฿": Currency("baht", "baht", "satang", "satang"), "¢": Currency("cent", "cents"),
}
# Dollars named by country: 'US$5', 'C$20'.
_DOLLAR_PREFIXES = {"US": "US", "C": "Canadian", "CA": "Canadian", "A": "Australian", "AU": "Australian",
                    "NZ": "New Zealand", "HK": "Hong Kong", "S": "Singapore", "SG": "Singapore"}
CODES = {
    "USD": Currency("US dollar", "US dollars", "cent", "cents"), "EUR": _EURO, "GBP": _POUND, "JPY": _YEN,
    "INR": _RUPEE, "CNY": Currency("yuan", "yuan"), "RMB": Currency("yuan", "yuan"),
    "CAD": Currency("Canadian dollar", "Canadian dollars", "cent", "cents"),
    "AUD": Currency("Australian dollar", "Australian dollars", "cent", "cents"),
    "NZD": Currency("New Zealand dollar", "New Zealand dollars", "cent", "cents"),
    "HKD": Currency("Hong Kong dollar", "Hong Kong dollars", "cent", "cents"),
    "SGD": Currency("Singapore dollar", "Singapore dollars", "cent", "cents"),
    "CHF": Currency("Swiss franc", "Swiss francs", "centime", "centimes"),
    "SEK": Currency("Swedish krona", "Swedish kronor"), "NOK": Currency("Norwegian krone", "Norwegian kroner"),
    "DKK": Currency("Danish krone", "Danish kroner"), "KRW": Currency("won", "won"),
    "RUB": Currency("ruble", "rubles", "kopeck", "kopecks"), "BRL": Currency("real", "reais", "centavo", "centavos"),
    "MXN": Currency("Mexican peso", "Mexican pesos", "centavo", "centavos"),
    "ZAR": Currency("rand", "rand", "cent", "cents"), "BTC": Currency("bitcoin", "bitcoins"),
}
SCALES = {"hundred": "hundred", "thousand": "thousand", "million": "million", "billion": "billion",
          "trillion": "trillion", "k": "thousand", "K": "thousand", "m": "million", "M": "million", "mn": "million",
          "mm": "million", "b": "billion", "B": "billion", "bn": "billion", "t": "trillion", "T": "trillion",
          "tn": "trillion"}
_SCALE = r"(?:\s?(?:hundred|thousand|million|billion|trillion)\b|(?:mn|mm|bn|tn|[kKmMbBtT])(?![\w]))"
_SYMBOL = "".join(re.escape(s) for s in SYMBOLS if s != "¢")
_CODE = "|".join(CODES)
_PER = "|".join(re.escape(w) for w in sorted(set(UNITS) | set(PER), key=len, reverse=True))
_TAIL = rf"(?:\s?/\s?(?P<per>{_PER})(?![\w]))?"
_PREFIXED = re.compile(
    rf"(?<![\w.,$])(?P<sign>[-−](?=\S))?(?:(?P<country>US|CA|AU|NZ|HK|SG|C|A|S)(?=\$))?(?P<sym>[{_SYMBOL}])"
    rf"\s?(?P<sign2>[-−])?(?P<n>{NUMBER_PATTERN})(?P<scale>{_SCALE})?"
    rf"(?:\s?[-–]\s?(?P=sym)?(?P<n2>{NUMBER_PATTERN})(?P<scale2>{_SCALE})?)?{_TAIL}(?![0-9])")
_CODE_FIRST = re.compile(
    rf"(?<![\w.,])(?P<code>{_CODE})\s?(?P<sign2>[-−])?(?P<n>{NUMBER_PATTERN})(?P<scale>{_SCALE})?"
    rf"(?:\s?[-–]\s?(?P<n2>{NUMBER_PATTERN})(?P<scale2>{_SCALE})?)?{_TAIL}(?![\w.,]?[0-9])")
_CODE_AFTER = re.compile(
    rf"(?<![\w.,])(?P<sign>[-−](?=[0-9]))?(?P<n>{NUMBER_PATTERN})(?P<scale>{_SCALE})?"
    rf"(?:\s?[-–]\s?(?P<n2>{NUMBER_PATTERN})(?P<scale2>{_SCALE})?)?\s?"
    rf"(?:(?P<code>{_CODE})(?![\w])|(?P<sym>[{_SYMBOL}¢]))(?![\w$]){_TAIL}")
_PENCE = re.compile(r"(?<![\w.,])(?P<n>[0-9]{1,2})p(?![\w])")
_ARTICLE = re.compile(r"(?:^|\s)[Aa]n?\s$")


def _scale(written: str | None) -> str:
    return SCALES.get((written or "").strip(), "")


def _amount(n: str, currency: Currency, scale: str, adjective: bool) -> str:
    """One amount with its unit: 'four dollars and fifty cents', 'five million dollars', 'a five dollar fee'."""
    if scale:
        return f"{number(n)} {scale} {currency.one if adjective else currency.many}"
    integer, _, fraction = n.partition(".")
    if fraction and (len(fraction) > 2 or currency.minor_one is None):
        return f"{number(n)} {currency.many}"
    main = currency.one if adjective or is_one(integer) else currency.many
    said = f"{integer_words(integer)} {main}"
    cents = int(fraction.ljust(2, "0")) if fraction else 0
    if not cents:
        return said
    minor = currency.minor_one if cents == 1 else currency.minor_many
    cents_said = f"{cardinal(str(cents))} {minor}"
    return cents_said if integer.strip("0,") == "" else f"{said} and {cents_said}"


def _bare(n: str, scale: str) -> str:
    """The first amount of a range, said without its unit when both share it ('five to ten dollars')."""
    return f"{number(n)} {scale}".rstrip()


def _money(m: re.Match, currency: Currency) -> str:
    groups = m.groupdict()
    negative = groups.get("sign") or groups.get("sign2")
    before = m.string[max(0, m.start() - 4):m.start()]
    n2 = groups.get("n2")
    scale, scale2 = _scale(groups.get("scale")), _scale(groups.get("scale2"))
    # 'a $5 fee', 'a $2 million deal'; with cents it stays a noun ('a $4.50 coffee')
    adjective = not n2 and bool(_ARTICLE.search(before)) and (bool(scale) or "." not in m.group("n"))
    if n2:
        first = _bare(m.group("n"), scale) if "." not in m.group("n") else _amount(m.group("n"), currency, scale, False)
        said = f"{first} to {_amount(n2, currency, scale2 or scale, False)}"
    else:
        said = _amount(m.group("n"), currency, scale, adjective)
    if groups.get("per"):
        said += f" per {unit_name(groups['per'], True)}"
    return f"minus {said}" if negative else said


def _prefixed(m: re.Match) -> str:
    currency = SYMBOLS[m.group("sym")]
    country = m.group("country")
    if country and m.group("sym") == "$":
        name = _DOLLAR_PREFIXES[country]
        currency = Currency(f"{name} dollar", f"{name} dollars", "cent", "cents")
    return _money(m, currency)


def _code_first(m: re.Match) -> str:
    return _money(m, CODES[m.group("code")])


def _code_after(m: re.Match) -> str:
    return _money(m, CODES[m.group("code")] if m.group("code") else SYMBOLS[m.group("sym")])


def _pence(m: re.Match) -> str:
    return f"{cardinal(m.group('n'))} {'penny' if m.group('n') == '1' else 'pence'}"


def verbalize_money(text: str) -> str:
    """Amounts with a currency symbol or ISO code said as words."""
    for pattern, read in ((_PREFIXED, _prefixed), (_CODE_FIRST, _code_first), (_CODE_AFTER, _code_after),
                          (_PENCE, _pence)):
        text = rewrite(pattern, read, text)
    return text
