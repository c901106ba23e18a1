"""The text front end: what tts.text.verbalize.spoken costs, and what it changes in what hibari says; one JSON line.

    python -m bench.bench_text                   # cost on 120 sentences, ASR round trip on 36
    python -m bench.bench_text --sentences 3     # the smoke test's path: 3 ASR sentences
    python -m bench.bench_text --no-asr          # cost only (no hibari, no pocketsphinx)

normalize: per-sentence cost of spoken() after import (each sentence timed --repeats times, its median kept;
p50/p95/max over the corpus), the import itself, and a 5,000-character worst case. Goal: p50 <= 5 ms.

asr: each sentence is synthesized by the default engine (tts.engines.hibari.HibariEngine.synthesize, seed 0) as
(a) written, (b) spoken(written), (c) its spoken reference written by hand, then recognized by pocketsphinx at
16 kHz; word error rate against the reference, mean over sentences and over all words. Goal: (b) <= (c) + 0.05
(mean). spoken_reads_better lists the sentences where (b) beat hibari's own reader (a), hibari_reads_better those
where (a) beat (b)."""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

# (written, its spoken reference by hand): heavy in numbers, dates, amounts and units.
ASR = [
    ("The invoice total is $1,234.56, due on 12/03/2026.",
     "the invoice total is one thousand two hundred thirty four dollars and fifty six cents due on december third "
     "twenty twenty six"),
    ("The meeting starts at 3:30 pm on March 3rd, 2025.",
     "the meeting starts at three thirty p.m. on march third twenty twenty five"),
    ("She ran 10 km in 45 minutes.", "she ran ten kilometers in forty five minutes"),
    ("It was 72°F in Miami and 20 °C in Paris.",
     "it was seventy two degrees fahrenheit in miami and twenty degrees celsius in paris"),
    ("Prices rose 5-10% in 2026.", "prices rose five to ten percent in twenty twenty six"),
    ("Call +1 (555) 123-4567 after 9am.",
     "call plus one five five five one two three four five six seven after nine a.m."),
    ("Dr. Smith lives at 42 Main St.", "doctor smith lives at forty two main street"),
    ("The file is 3.5 GB and the link runs at 100 Mbps.",
     "the file is three point five gigabytes and the link runs at one hundred megabits per second"),
    ("World War II ended in 1945.", "world war two ended in nineteen forty five"),
    ("Henry VIII had 6 wives.", "henry the eighth had six wives"),
    ("The car cost $25,000 in 1999.", "the car cost twenty five thousand dollars in nineteen ninety nine"),
    ("Add 1/2 cup of sugar and 3/4 cup of flour.", "add one half cup of sugar and three quarters cup of flour"),
    ("The 21st century began on 1 January 2001.",
     "the twenty first century began on the first of january two thousand one"),
    ("He is 5'11\" tall and weighs 180 lbs.",
     "he is five feet eleven inches tall and weighs one hundred eighty pounds"),
    ("The train leaves at 15:45 from platform 9.", "the train leaves at fifteen forty five from platform nine"),
    ("Our revenue was $5 million, up 12% from 2024.",
     "our revenue was five million dollars up twelve percent from twenty twenty four"),
    ("The recipe needs 250 ml of milk and 2 tsp of salt.",
     "the recipe needs two hundred fifty milliliters of milk and two teaspoons of salt"),
    ("The speed limit is 100 km/h on the highway.",
     "the speed limit is one hundred kilometers per hour on the highway"),
    ("Chapter IV begins on page 57.", "chapter four begins on page fifty seven"),
    ("Interest rates fell to 3.25% on 2026-03-12.",
     "interest rates fell to three point two five percent on march twelfth twenty twenty six"),
    ("The 1990s were good for music, and the '80s were louder.",
     "the nineteen nineties were good for music and the eighties were louder"),
    ("Tickets cost €45.50 or £39.99.",
     "tickets cost forty five euros and fifty cents or thirty nine pounds and ninety nine pence"),
    ("The population reached 8,000,000,000 in 2022.",
     "the population reached eight billion in twenty twenty two"),
    ("Email user@mail.org or visit example.com today.",
     "email user at mail dot org or visit example dot com today"),
    ("The room is 12 ft by 15 ft.", "the room is twelve feet by fifteen feet"),
    ("Apollo XI landed on July 20, 1969.", "apollo eleven landed on july twentieth nineteen sixty nine"),
    ("Temperatures dropped to -5°C overnight.", "temperatures dropped to minus five degrees celsius overnight"),
    ("She finished 2nd out of 150 runners.", "she finished second out of one hundred fifty runners"),
    ("It weighs 5 kg, roughly 11 lbs.", "it weighs five kilograms roughly eleven pounds"),
    ("The flight takes 2 hrs 30 mins.", "the flight takes two hours thirty minutes"),
    ("About 1,500 people attended the 3rd annual fair.",
     "about one thousand five hundred people attended the third annual fair"),
    ("The bill came to $0.99 plus $4.50 for delivery.",
     "the bill came to ninety nine cents plus four dollars and fifty cents for delivery"),
    ("The event runs from 9:00 to 17:00 on 5/6/2026.",
     "the event runs from nine o'clock to seventeen hundred on may sixth twenty twenty six"),
    ("Mr. Jones paid USD 300 for 2 nights.", "mister jones paid three hundred us dollars for two nights"),
    ("The tower is 324 m tall and was built in 1889.",
     "the tower is three hundred twenty four meters tall and was built in eighteen eighty nine"),
    ("Our office is open 8am-6pm on weekdays.", "our office is open eight a.m. to six p.m. on weekdays"),
]
# More written forms for the cost measurement (with ASR's written sentences: 120 in all).
MORE = [
    "The stock fell 2.5% to $134.27 on Friday.", "Flight UA 857 departs at 11:05 a.m. from Gate 42.",
    "We drove 1,200 mi in 3 days.", "He was born on 07/04/1976 in Boston.", "The 3rd quarter ended Sept 30, 2025.",
    "Set the oven to 350°F for 25 min.", "A 2 TB drive costs about $89.99.", "Pope John Paul II visited in 1979.",
    "Take 500 mg twice a day.", "Rent is $2,150/month plus utilities.", "The score was 3-2 after 90 minutes.",
    "Read pages 10-20 before Tuesday.", "It happened in the '60s, not the 1970s.", "Call 1-800-555-0199 now.",
    "Her time was 2:03:45 in the marathon.", "The lot is 0.25 acres, or 10,890 sq ft.",
    "Louis XIV ruled for 72 years.", "Version 3.11.2 fixes 14 bugs.", "The ratio is 16:9 on a 65\" screen.",
    "The temperature rose by 1.5 °C since 1850.", "E = mc² is the famous equation.",
    "The CO₂ level hit 420 ppm in 2023.", "Earn 5x points on purchases over $50.", "Apt. 4B is on the 2nd floor.",
    "The budget is €2.3bn for 2026-2030.", "Use a 2x4 and 3 nails.", "Chapter XII starts at p. 201.",
    "Sales grew 12.5% year over year to ¥1,500,000.", "Meet me at 7 PM at 221B Baker St.",
    "It's 24/7 support, 365 days a year.", "The wifi runs at 2.4 GHz and 5 GHz.", "Mix 1 1/2 cups of flour.",
    "Scores ranged from 9/10 to 10/10.", "On Dec. 25th we open at noon.", "The 100th anniversary is in 2027.",
    "Sen. Warren spoke at 10:30am.", "The CPU runs at 3.6 GHz with 16 GB RAM.", "Gas is $3.49/gal today.",
    "The quake measured 6.8 and lasted 45 s.", "His BMI is 22.4 at 1.8 m and 72 kg.",
    "Visit https://www.example.org/docs for more.", "The record sold 10M copies by 1985.",
    "I owe you £12.50 and 50p.", "The file is 1.44 MB.", "Turn left after 300 m.", "It costs ₹1,499 in India.",
    "Add 2 tbsp of oil at 180 °C.", "The battery holds 5,000 mAh.", "She was 1st in the 400 m race.",
    "The deadline is 2026-01-15 at 17:00.", "Up to 70% off through 1/31.", "The bridge opened 1937-05-27.",
    "Queen Elizabeth II reigned 70 years.", "Super Bowl LVIII was in Las Vegas.", "The dam holds 35 km³ of water.",
    "It is 25 ft long and 8' tall.", "Your order #4521 ships in 3-5 days.", "St. Paul's is on Ludgate Hill.",
    "Prof. Lee's lab got $1.2M in 2024.", "A 10-km run burns ~600 kcal.", "Temperatures hit 40° in July.",
    "The 2000s began with Y2K.", "Sign up at events@city.gov by 6/15.", "The answer is 42, i.e. everything.",
    "We need 3 eggs, 2 cups of milk, etc.", "Boeing 747s carried 416 passengers.", "The fee is 1.5% + $0.30.",
    "The summit is 8,849 m high.", "AD 79 saw Vesuvius erupt.", "The pyramid dates to 2560 BC.",
    "Its area is 50 m² with 2.7 m ceilings.", "A ½ mile walk takes 10 min.", "Revenue: $3.2B in Q3 2025.",
    "The 5G tower covers 10 km².", "Mortgage rates: 6.5%-7%.", "He bought 100 shares at $12.34.",
    "The clock read 00:00 on Jan 1.", "It runs at 60 fps in 4K.", "Doses of 0.5 mL were given.",
    "Born 3/12/05, she is 20.", "Tel. 020 7946 0958 for info.", "The bus is No. 38 from Elm St. station.",
    "Henry VIII was born on 28 June 1491.", "The 2 × 3 grid holds 6 photos at 1920x1080.",
]


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]", " ", text.lower().replace("-", " ")).split()


def edit_distance(a: list[str], b: list[str]) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def normalize_cost(repeats: int) -> dict:
    t = time.perf_counter()
    from tts.text.verbalize import spoken
    import_ms = (time.perf_counter() - t) * 1e3
    corpus = [w for w, _ in ASR] + MORE
    spoken(corpus[0])
    per_sentence = []
    for sentence in corpus:
        runs = []
        for _ in range(repeats):
            t = time.perf_counter()
            spoken(sentence)
            runs.append((time.perf_counter() - t) * 1e3)
        per_sentence.append(statistics.median(runs))
    per_sentence.sort()
    worst = ("1,000," * 834)[:5000]
    t = time.perf_counter()
    spoken(worst)
    worst_ms = (time.perf_counter() - t) * 1e3
    chars = sum(len(s) for s in corpus)
    return {"sentences": len(corpus), "mean_chars": round(chars / len(corpus), 1),
            "p50_ms": round(statistics.median(per_sentence), 3),
            "p95_ms": round(per_sentence[int(0.95 * (len(per_sentence) - 1))], 3),
            "max_ms": round(per_sentence[-1], 3), "import_ms": round(import_ms, 1),
            "worst_case_5000_chars_ms": round(worst_ms, 1)}


def asr_round_trip(count: int) -> dict:
    import numpy as np
    import pocketsphinx

    from tts.audio import resample
    from tts.engines.hibari import HibariEngine
    from tts.request import SynthesisRequest
    from tts.text import clean
    from tts.text.verbalize import spoken

    engine = HibariEngine()
    decoder = pocketsphinx.Decoder(samprate=16000)
    pause = np.zeros(int(engine.sample_rate * engine.pause_ms / 1000), np.float32)

    def heard(text: str) -> str:
        request = SynthesisRequest(text=text, voice=engine.default_voice, speaker=0, format="wav",
                                   sample_rate=engine.sample_rate)
        pieces = []
        for piece in engine.synthesize(text, request):
            pieces += [piece.samples, pause]
        audio = resample(np.concatenate(pieces or [pause]), engine.sample_rate, 16000)
        decoder.start_utt()
        decoder.process_raw((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes(), full_utt=True)
        decoder.end_utt()
        return decoder.hyp().hypstr if decoder.hyp() else ""

    rates = {"written": [], "spoken": [], "reference": []}
    errors = dict.fromkeys(rates, 0)
    total = 0
    better, improved = [], []
    for written, reference in ASR[:count]:
        ref = words(reference)
        total += len(ref)
        texts = {"written": clean(written), "spoken": spoken(clean(written)), "reference": reference}
        wer = {}
        for kind, text in texts.items():
            e = edit_distance(ref, words(heard(text)))
            errors[kind] += e
            wer[kind] = e / len(ref)
            rates[kind].append(wer[kind])
        if wer["spoken"] < wer["written"]:
            improved.append(written)
        if wer["written"] < wer["spoken"]:
            better.append({"written": written, "spoken": texts["spoken"], "wer_written": round(wer["written"], 3),
                           "wer_spoken": round(wer["spoken"], 3), "wer_reference": round(wer["reference"], 3)})
    mean = {kind: round(statistics.mean(v), 4) for kind, v in rates.items()}
    return {"sentences": count, "reference_words": total,
            "wer_written": mean["written"], "wer_spoken": mean["spoken"], "wer_reference": mean["reference"],
            "corpus_wer": {kind: round(e / total, 4) for kind, e in errors.items()},
            "goal_spoken_within_0.05_of_reference": mean["spoken"] <= mean["reference"] + 0.05,
            "spoken_reads_better": improved, "hibari_reads_better": better}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sentences", type=int, default=len(ASR), help=f"ASR sentences (1-{len(ASR)})")
    parser.add_argument("--repeats", type=int, default=20, help="timed runs of spoken() per sentence")
    parser.add_argument("--no-asr", action="store_true", help="measure the cost only")
    args = parser.parse_args()
    if not 1 <= args.sentences <= len(ASR) or args.repeats < 1:
        parser.error(f"--sentences takes 1-{len(ASR)}, --repeats at least 1")
    out = {"normalize": normalize_cost(args.repeats)}
    if not args.no_asr:
        out["asr"] = asr_round_trip(args.sentences)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
