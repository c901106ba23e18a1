"""Abbreviations and titles said in full: 'Dr. Smith' -> 'Doctor Smith', 'vs.' -> 'versus', 'e.g.' -> 'for
example', 'No. 5' -> 'number 5'. 'St.' is 'Street' after a name ('Main St.', '5th St.') and 'Saint' before
one ('St. Louis'); 'Dr.' is 'Doctor' before a name and 'Drive' after one ('Mulholland Dr.'). An abbreviation
whose period also ended the sentence keeps it ('..., etc. Then' -> '..., et cetera. Then')."""
from __future__ import annotations

import re

from tts.text.rewrite import rewrite

# Said only before a capitalized name; the period is optional ('Mr Smith', British style).
TITLES = {"Mr": "Mister", "Mrs": "Missus", "Ms": "Miz", "Dr": "Doctor", "Prof": "Professor", "St": "Saint",
          "Mt": "Mount", "Ft": "Fort", "Gen": "General", "Gov": "Governor", "Sen": "Senator", "Rep": "Representative",
          "Capt": "Captain", "Lt": "Lieutenant", "Col": "Colonel", "Sgt": "Sergeant", "Rev": "Reverend",
          "Hon": "Honorable", "Pres": "President", "Fr": "Father", "Messrs": "Messieurs"}
# Street types, said after a name (or a number: '5th Ave.').
STREETS = {"St": "Street", "Ave": "Avenue", "Rd": "Road", "Blvd": "Boulevard", "Ln": "Lane", "Dr": "Drive",
           "Ct": "Court", "Pl": "Place", "Sq": "Square", "Hwy": "Highway", "Pkwy": "Parkway", "Mt": "Mount"}
# Always said this way (with their period, or as written here).
WORDS = {
    "vs.": "versus", "vs": "versus", "etc.": "et cetera", "e.g.": "for example", "i.e.": "that is",
    "eg.": "for example", "ie.": "that is", "a.k.a.": "also known as", "aka.": "also known as",
    "approx.": "approximately",
    "Jr.": "Junior", "Sr.": "Senior", "Inc.": "Incorporated", "Ltd.": "Limited", "Corp.": "Corporation",
    "Co.": "Company", "Bros.": "Brothers", "Dept.": "Department", "Univ.": "University", "Assn.": "Association",
    "Est.": "Established", "est.": "established", "Mfg.": "Manufacturing", "Intl.": "International",
    "avg.": "average", "w/": "with", "w/o": "without", "ext.": "extension", "Ext.": "extension",
    "excl.": "excluding", "incl.": "including", "misc.": "miscellaneous", "dept.": "department",
}
# Of WORDS, those that end sentences ('..., etc.', 'Apple Inc.'); the others lead into what follows.
ENDS_SENTENCE = frozenset({"etc.", "Jr.", "Sr.", "Inc.", "Ltd.", "Corp.", "Co.", "Bros.", "Dept.", "misc."})
# Said this way before a number only ('No. 5', 'p. 12', 'Fig. 3', 'ca. 1500').
BEFORE_NUMBER = {"No.": "number", "no.": "number", "Nos.": "numbers", "nos.": "numbers", "No": "number",
                 "Fig.": "Figure", "fig.": "figure", "Figs.": "Figures", "Vol.": "Volume", "vol.": "volume",
                 "Ch.": "Chapter", "ch.": "chapter", "p.": "page", "pp.": "pages", "Pg.": "page", "pg.": "page",
                 "Sec.": "Section", "sec.": "section", "Art.": "Article", "art.": "article", "Ep.": "Episode",
                 "ca.": "circa", "c.": "circa", "Apt.": "Apartment", "apt.": "apartment", "Ste.": "Suite",
                 "Rm.": "Room", "rm.": "room", "Tel.": "Telephone", "tel.": "telephone"}


def _alternation(words) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_TITLE = re.compile(rf"(?<![\w.])(?P<abbr>{_alternation(set(TITLES) | set(STREETS))})(?P<dot>\.)?"
                    r"(?=(?P<space>\s+)(?P<next>[\"'“‘(]?[A-Z0-9])?|[,;:!?)]|$)")
_WORD = re.compile(rf"(?<![\w.])(?P<abbr>{_alternation(WORDS)})(?![\w]|(?<=\w)\.)")
_BEFORE_NUMBER = re.compile(rf"(?<![\w.])(?P<abbr>{_alternation(BEFORE_NUMBER)})(?=\s?#?[0-9])")
_PREVIOUS = re.compile(r"(?:^|[\s(])(?P<word>[\"'“‘(]?[A-Za-z0-9][\w'’-]*)[,]?\s+$")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*\s+$")


def _previous_word(text: str, start: int) -> tuple[str, bool]:
    """The word before text[start] and whether it starts its sentence."""
    m = _PREVIOUS.search(text, max(0, start - 40), start)
    if not m:
        return "", False
    begin = m.start("word")
    first = begin == 0 or bool(_SENTENCE_END.search(text, max(0, begin - 6), begin))
    return m.group("word").lstrip("\"'“‘("), first


def _kept_period(m: re.Match, said: str, had_period: bool) -> str:
    """The abbreviation's period stays when it also ends the sentence (end of text, or a capital follows)."""
    if not had_period:
        return said
    rest = m.string[m.end():m.end() + 3]
    if rest == "" or (rest[:1] == " " and rest[1:2].isupper()) or rest[:1] in "\"”')":
        return said + "."
    return said


def _title(m: re.Match) -> str | None:
    abbr, dot = m.group("abbr"), bool(m.group("dot"))
    before, first = _previous_word(m.string, m.start())
    capital_before = bool(before) and (before[0].isupper() or before[0].isdigit())
    name_before = capital_before and not first  # a sentence's first word is capitalized whatever it is
    name_after = m.group("next") is not None and not m.group("next")[-1].isdigit()
    if abbr == "Dr" and name_after:           # 'Dr. Smith', 'Ask Dr. Lee'
        return "Doctor"
    if abbr in STREETS and (name_before or (capital_before and not name_after)):
        return _kept_period(m, STREETS[abbr], dot)  # 'Main St.', 'Mulholland Dr.', '5th Ave.'
    if abbr in TITLES and name_after:         # 'St. Louis', 'Mr Smith', 'Gen. Patton'
        return TITLES[abbr]
    if dot and abbr == "St":                  # 'Elm St. is closed' (its name starts the sentence)
        return _kept_period(m, "Street", dot)
    if dot and abbr == "Dr":                  # 'the Dr. appointment'
        return "doctor"
    return None


def _word(m: re.Match) -> str:
    abbr = m.group("abbr")
    return _kept_period(m, WORDS[abbr], abbr in ENDS_SENTENCE)


def _before_number(m: re.Match) -> str:
    said = BEFORE_NUMBER[m.group("abbr")]
    return said + " " if m.string[m.end():m.end() + 1] != " " else said


def verbalize_abbreviations(text: str) -> str:
    """Titles, street types and common abbreviations said in full."""
    for pattern, read in ((_BEFORE_NUMBER, _before_number), (_TITLE, _title), (_WORD, _word)):
        text = rewrite(pattern, read, text)
    return text
