"""Roman numerals where the words around them say they are numbers: 'World War II' -> 'World War two', 'Chapter
IV' -> 'Chapter four', 'Henry VIII' -> 'Henry the Eighth', 'Elizabeth II's' -> 'Elizabeth the Second's',
'Final Fantasy VII' -> 'Final Fantasy seven'.

Only uppercase numerals up to 399, and only after a word that calls for one: a numbering word (Chapter, Part,
Super Bowl ...) or a ruler's name or title, both from the lists below; after any other capitalized word only
the two-to-five-letter numerals from II to XX except XX ('Grand Theft Auto IV'). 'I' is a numeral after a
capitalized numbering word ('World War I', 'Type I diabetes'); after a ruler's name or a lowercase numbering
word only when nothing the pronoun could do follows it ('Elizabeth I of England', 'James I.'), so the pronoun
stays a pronoun ('James I think'); single C, D, L and M never are numerals ('Part C'), nor words like MIX (1009)."""
from __future__ import annotations

import re

from tts.text.number_words import cardinal, ordinal
from tts.text.rewrite import capitalized, rewrite

_NUMBERING = ("World War", "Chapter", "Part", "Book", "Volume", "Act", "Scene", "Section", "Article", "Phase",
              "Stage", "Level", "Round", "Episode", "Season", "Title", "Type", "Class", "Grade", "Category", "Mark",
              "Super Bowl", "Apollo", "Gemini", "Vatican", "Psalm", "Appendix", "Canto", "Schedule", "Annex",
              "Final Fantasy", "Rocky", "Star Trek", "Series", "Tier", "Division", "Unit", "Lesson", "Figure")
_RULERS = ("King", "Queen", "Pope", "Emperor", "Empress", "Tsar", "Czar", "Kaiser", "Pharaoh", "Sultan", "Shah",
           "Henry", "Edward", "George", "William", "Charles", "James", "Richard", "Elizabeth", "Louis", "Philip",
           "Frederick", "Peter", "Catherine", "Ivan", "Nicholas", "Alexander", "John Paul", "Paul", "John",
           "Benedict", "Pius", "Leo", "Gregory", "Innocent", "Clement", "Boniface", "Urban", "Sixtus", "Alfonso",
           "Ferdinand", "Napoleon", "Ramesses", "Ramses", "Amenhotep", "Thutmose", "Gustav", "Gustavus",
           "Christian", "Olaf", "Harald", "Haakon", "Constantine", "Justinian", "Mary", "Anne", "Francis", "Otto",
           "Wilhelm", "Friedrich", "Ludwig", "Carlos", "Juan Carlos", "Felipe", "Umberto", "Victor Emmanuel",
           "Rama", "Mohammed", "Selim", "Suleiman", "Mehmed", "Darius", "Xerxes", "Ptolemy", "Cleopatra", "Antiochus",
           "Casimir", "Sigismund", "Boleslaw", "Stephen", "Robert", "David", "Kenneth", "Duncan")
_NOT_NAMES = frozenset({"The", "A", "An", "And", "Or", "But", "In", "On", "At", "To", "Of", "For", "With", "By",
                        "From", "As", "If", "So", "Is", "Was", "I", "We", "You", "He", "She", "It", "They", "My",
                        "Our", "Your", "His", "Her", "Their", "This", "That", "These", "Those", "Mr", "Mrs", "Ms",
                        "Dr", "Use", "Run", "Call", "Send", "Get", "Give"})
_VALID = re.compile(r"(?=[IVXLCDM])M{0,3}(?:CM|CD|D?C{0,3})(?:XC|XL|L?X{0,3})(?:IX|IV|V?I{0,3})")
_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}
_MAX = 399
_GENERIC_MAX = 20
# After 'I' these show a numeral, not the pronoun: 'Part I is', 'Elizabeth I of England'.
_AFTER_NUMERAL_I = frozenset({"of", "is"})


def _alternation(words) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_LOWER_NUMBERING = tuple(w.lower() for w in _NUMBERING if " " not in w)
_CUED = re.compile(rf"(?<![\w])(?P<cue>{_alternation(_NUMBERING + _LOWER_NUMBERING + _RULERS)})\s"
                   r"(?P<numeral>[IVXLCDM]{1,9})(?P<possessive>['’]s)?(?![\w'’-])")
_GENERIC = re.compile(r"(?<![\w])(?P<cue>[A-Z][a-z]+)\s(?P<numeral>[IVX]{2,5})(?P<possessive>['’]s)?(?![\w'’-])")
_NEXT_WORD = re.compile(r"\s*([A-Za-z]*)")


def roman_value(numeral: str) -> int | None:
    """The value of a well-formed uppercase Roman numeral ('XIV' -> 14); None for anything else ('IIII')."""
    if not numeral or not _VALID.fullmatch(numeral):
        return None
    total = 0
    for i, c in enumerate(numeral):
        value = _VALUES[c]
        total += -value if i + 1 < len(numeral) and _VALUES[numeral[i + 1]] > value else value
    return total


def _pronoun_may_follow(m: re.Match) -> bool:
    """Whether the text after a lone 'I' reads like the pronoun's sentence: a lowercase word ('I think')."""
    rest = m.string[m.end():m.end() + 12]
    if not rest or not rest[0].isspace():
        return False
    word = _NEXT_WORD.match(rest).group(1)
    return word[:1].islower() and word not in _AFTER_NUMERAL_I


def _say(m: re.Match, ruler: bool, limit: int) -> str | None:
    numeral, cue = m.group("numeral"), m.group("cue")
    value = roman_value(numeral)
    if value is None or value > limit or (len(numeral) == 1 and numeral in "LCDM"):
        return None
    if numeral == "I" and (ruler or cue.islower()) and _pronoun_may_follow(m):
        return None
    said = f"the {capitalized(ordinal(str(value)))}" if ruler else cardinal(str(value))
    return f"{cue} {said}{m.group('possessive') or ''}"


def _cued(m: re.Match) -> str | None:
    return _say(m, m.group("cue") in _RULERS, _MAX)


def _generic(m: re.Match) -> str | None:
    if m.group("cue") in _NOT_NAMES or m.group("numeral") == "XX":
        return None
    return _say(m, False, _GENERIC_MAX)


def verbalize_roman(text: str) -> str:
    """Roman numerals that the words before them mark as numbers, said as numbers."""
    if not re.search(r"[IVX]", text):
        return text
    for pattern, read in ((_CUED, _cued), (_GENERIC, _generic)):
        text = rewrite(pattern, read, text)
    return text
