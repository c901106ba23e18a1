"""E-mail addresses and web addresses, read the way people say them: 'user@mail.org' -> 'user at mail dot org',
'https://www.example.com/docs' -> 'w w w dot example dot com slash docs' (the scheme is not said).

Without a scheme, a host is an address only when it ends in a well-known top-level domain, so 'e.g.', 'U.S.'
and 'end.Next' stay prose. Digit runs are read digit by digit ('a1b2.io/2024')."""
from __future__ import annotations

import re

from tts.text.number_words import cardinal, say_digits
from tts.text.rewrite import rewrite

_TLDS = ("com", "org", "net", "edu", "gov", "mil", "int", "io", "ai", "co", "dev", "app", "info", "biz", "me", "tv",
         "us", "uk", "ca", "de", "fr", "jp", "cn", "au", "in", "ru", "br", "it", "es", "nl", "se", "no", "ch", "eu",
         "ly", "gg", "fm", "xyz", "online", "site", "tech", "store", "blog", "cloud", "page", "news", "ie", "nz",
         "za", "pl", "be", "at", "dk", "fi", "kr", "mx", "ar", "gl", "sh", "to", "so", "cc", "ws", "la")
_TLD = "|".join(sorted(_TLDS, key=len, reverse=True))
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = rf"(?:{_LABEL}\.)+"
_PATH = r"(?:[/?#][^\s<>\"'()\[\]{}]*)?"
_EMAIL = re.compile(rf"(?<![\w.+%-])(?P<user>[A-Za-z0-9](?:[A-Za-z0-9._%+-]{{0,63}}[A-Za-z0-9])?)"
                    rf"@(?P<host>{_HOST}[A-Za-z]{{2,24}})(?![\w-])")
_URL = re.compile(rf"(?<![\w@./-])(?:(?P<scheme>https?|ftp)://(?P<any>{_HOST}[A-Za-z]{{2,24}}|{_LABEL})"
                  rf"|(?P<host>{_HOST}(?:{_TLD}))(?![\w-]))(?P<port>:[0-9]{{1,5}})?(?P<path>{_PATH})")
_PIECE = re.compile(r"[A-Za-z]+|[0-9]+|.", re.S)
_SAID = {".": "dot", "/": "slash", "-": "dash", "_": "underscore", "@": "at", ":": "colon", "?": "question mark",
         "=": "equals", "&": "and", "#": "hash", "%": "percent", "+": "plus", "~": "tilde"}
_TRAILING = ".,;:!?"


def _say(part: str) -> str:
    words = []
    for piece in _PIECE.findall(part):
        if piece[0].isdigit():
            words.append(cardinal(piece) if len(piece) <= 2 and piece[0] != "0" else say_digits(piece))
        elif piece.isalpha():
            words.append(" ".join(piece.lower()) if piece.lower() == "www" else piece)
        elif piece in _SAID:
            words.append(_SAID[piece])
    return " ".join(words)


def _email(m: re.Match) -> str:
    return f"{_say(m.group('user'))} at {_say(m.group('host'))}"


def _url(m: re.Match) -> str:
    host = m.group("any") or m.group("host")
    path = (m.group("port") or "") + (m.group("path") or "")
    trailing = ""
    while path and path[-1] in _TRAILING:  # the sentence's punctuation, not the address's
        trailing = path[-1] + trailing
        path = path[:-1]
    said = _say(host)
    if path.strip("/"):
        said += " " + _say(path)
    return said + trailing


def verbalize_web(text: str) -> str:
    """E-mail addresses and URLs in text said aloud."""
    for pattern, read in ((_EMAIL, _email), (_URL, _url)):
        text = rewrite(pattern, read, text)
    return text
