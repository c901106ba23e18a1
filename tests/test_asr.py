"""Round trip: synthesize at 16 kHz, recognize with pocketsphinx, compare words."""
import re

import numpy as np
import pytest

from tests.helpers import decode
from tts.doors.queue import queue_job

pocketsphinx = pytest.importorskip("pocketsphinx")

pytestmark = pytest.mark.slow  # worker processes and ASR

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Please call me back tomorrow morning.",
    "I would like a cup of coffee.",
    "The weather is nice today.",
    "We will meet at the train station.",
]
CONTRACTIONS = {"we'll": "we will", "i'm": "i am", "it's": "it is", "don't": "do not", "i'd": "i would",
                "that's": "that is", "you'll": "you will"}


def words(text: str) -> list[str]:
    out = []
    for w in re.sub(r"[^a-z' ]", " ", text.lower()).split():
        out.extend(CONTRACTIONS.get(w, w).split())
    return out


def edit_distance(a: list[str], b: list[str]) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def test_word_error_rate_of_the_round_trip_is_at_most_20_percent(service):
    decoder = pocketsphinx.Decoder(samprate=16000)
    errors = total = 0
    for sentence in SENTENCES:
        out = queue_job(service, {"text": sentence, "format": "wav", "sample_rate": 16000})
        samples, rate = decode(out)
        assert rate == 16000
        decoder.start_utt()
        decoder.process_raw((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes(), full_utt=True)
        decoder.end_utt()
        heard = decoder.hyp().hypstr if decoder.hyp() else ""
        ref = words(sentence)
        errors += edit_distance(ref, words(heard))
        total += len(ref)
        print(f"{sentence!r} -> {heard!r}")
    assert errors / total <= 0.20, f"WER {errors / total:.0%}"
