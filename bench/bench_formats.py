"""What each output format costs: encoding time against raw WAV, and the first byte of a stream; prints one JSON line.

    python -m bench.bench_formats                          # every format, 5 rounds
    python -m bench.bench_formats --formats wav,aac --runs 1

The audio: a few seconds of real speech from the default engine (hibari), made once. Each format at the rate a
request naming none gets (the codec's default for the engine: 24 kHz, G.711's 8 kHz), at its default bitrate:

  encode_ms          the whole audio through the format's encoder alone (Codec.open, one write, close), already
                     at the format's rate: median of the rounds
  vs_wav             encode_ms / WAV's encode_ms on the same samples at the same rate, in the same round
  realtime_x         audio seconds encoded per second of encoding
  first_byte_ms      streamed through the Assembler (the engine's pieces as it made them, take() after each, as the
                     service does): from the first piece added to the first bytes out (encoder thread included)
  first_byte_audio_ms  how much audio had gone in when those bytes came out (a whole-file format: all of it,
                     stream_audio_ms; hibari makes a sentence a piece, so a streaming format's first bytes follow
                     the first sentence)
  kbps               the file's size over its length

Rounds interleave the formats (a shared machine's drift falls on all of them alike)."""
from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

TEXT = "The quick brown fox jumps over the lazy dog. She sells sea shells by the sea shore."


def speech():
    """(the engine's pieces at its native rate, the rate, its pause between sentences)."""
    from tests.helpers import make_settings
    from tts.engines.hibari import HibariEngine
    from tts.schema import parse

    engine = HibariEngine(make_settings())
    request = parse({"text": TEXT}, engine.capabilities())
    return [p.samples for p in engine.synthesize(TEXT, request)], engine.sample_rate, engine.pause_ms


def encode_ms(codec, samples, rate: int) -> float:
    """A whole encode of `samples` (already at `rate`, in the codec's input dtype), in ms: the mean of enough
    encodes to fill 20 ms, so that a fast one (WAV: a copy) is not the timer's noise."""
    count, t = 0, time.perf_counter()
    while True:
        writer = codec.open(io.BytesIO(), rate)
        writer.write(samples)
        writer.close()
        count += 1
        elapsed = time.perf_counter() - t
        if elapsed >= 0.02:
            return elapsed * 1e3 / count


def streamed(name: str, pieces, native: int, rate: int, pause_ms: int) -> tuple[float, float, int, int]:
    """(ms to the first bytes, audio ms in by then, the stream's bytes, samples) through the Assembler."""
    from tts.assemble import Assembler

    t = time.perf_counter()
    a = Assembler(native, rate, name, pause_ms, stream=True)
    first = None
    size = 0
    for piece in pieces:
        a.add(piece)
        chunk = a.take()
        size += len(chunk)
        if chunk and first is None:
            first = ((time.perf_counter() - t) * 1e3, a.output_seconds * 1e3)
    _, n = a.finish()
    tail = a.take()
    size += len(tail)
    if first is None:
        first = ((time.perf_counter() - t) * 1e3, a.output_seconds * 1e3)
    return first[0], first[1], size, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--formats", help="comma-separated formats (default: every one)")
    parser.add_argument("--runs", type=int, default=5, help="rounds (medians over them)")
    args = parser.parse_args()

    from tts import audio, formats

    names = args.formats.split(",") if args.formats else list(formats.FORMATS)
    unknown = [n for n in names if n not in formats.FORMATS]
    if unknown:
        parser.error(f"unknown formats {unknown}; known: {', '.join(formats.FORMATS)}")
    pieces, native, pause_ms = speech()
    whole = np.concatenate(pieces)
    rates = {n: formats.get(n).default_rate(native) for n in names}
    inputs = {}   # (rate, int16?) -> samples at that rate, in that dtype: resampled once, outside the timing
    for n in names:
        codec = formats.get(n)
        for key in ((rates[n], codec.int16_input), (rates[n], True)):   # the format's, and WAV's at its rate
            if key not in inputs:
                r = audio.Resampler(native, key[0])
                x = np.concatenate([r.push(whole), r.finish()])
                inputs[key] = audio.to_pcm16(x) if key[1] else np.clip(x, -1.0, 1.0)
    wav = formats.get("wav")
    for n in names:   # a first encode each, untimed: imports (PyAV), first allocations
        encode_ms(formats.get(n), inputs[(rates[n], formats.get(n).int16_input)], rates[n])
        streamed(n, pieces, native, rates[n], pause_ms)
    times = {n: [] for n in names}
    ratios = {n: [] for n in names}
    first = {n: [] for n in names}
    for _ in range(args.runs):
        for n in names:
            codec, rate = formats.get(n), rates[n]
            base = encode_ms(wav, inputs[(rate, True)], rate)
            ms = encode_ms(codec, inputs[(rate, codec.int16_input)], rate)
            times[n].append(ms)
            ratios[n].append(ms / base)
            first[n].append(streamed(n, pieces, native, rate, pause_ms))
    seconds = len(whole) / native
    report = {"engine": "hibari", "text_chars": len(TEXT), "audio_s": round(seconds, 2), "runs": args.runs,
              "stream_audio_ms": None, "formats": {}}
    for n in names:
        ms = statistics.median(times[n])
        first_ms, first_audio_ms, size, samples = sorted(first[n], key=lambda f: f[0])[len(first[n]) // 2]
        report["formats"][n] = {
            "rate": rates[n], "encode_ms": round(ms, 2), "vs_wav": round(statistics.median(ratios[n]), 1),
            "realtime_x": round(seconds / (ms / 1e3)), "first_byte_ms": round(first_ms, 1),
            "first_byte_audio_ms": round(first_audio_ms), "kbps": round(size * 8 / (samples / rates[n]) / 1000, 1)}
        report["stream_audio_ms"] = round(samples / rates[n] * 1000)   # the assembled audio (pauses evened)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
