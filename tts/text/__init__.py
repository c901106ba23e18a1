"""The text front end, the same for every engine: what a request's text becomes before an engine speaks it.

    clean.py       Unicode NFC, invisible characters removed, whitespace collapsed (every request)
    split.py       sentences, clauses and chunks (the streaming and session doors start speaking at the first)
    verbalize.py   written forms -> spoken words (numbers, dates, times, amounts, units, abbreviations, ...);
                   one module per kind (numbers.py, dates.py, money.py, ...), rewrite.py runs them
    ssml.py        SSML (opt-in or detected) -> segments;  lexicon.py  pronunciations applied to words
    script.py      Segment/Script: what the front end returns and the cache key hashes
    frontend.py    prepare(): all of the above in order, the same for every engine
"""
from tts.text.clean import clean
from tts.text.split import chunk, split_sentences

__all__ = ["chunk", "clean", "split_sentences"]
