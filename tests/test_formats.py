"""Output formats (tts.formats): every format, whole and streamed, at every rate it takes, opens in two independent
decoders and tells its true length; decoded, it is the audio that went in; a stream is what its closed file gives;
the same audio gives the same bytes; bitrates are what a request asked for.

The decoders: libsndfile and FFmpeg for every format libsndfile reads; G.711 also through the expansion tables
below (written from the standard, checked against both libraries on all 256 codes). libsndfile reads no AAC, so
AAC and M4A are decoded by FFmpeg's two AAC decoders (floating and fixed point) and their lengths also read from
their containers by the parsers below (ADTS frame headers, the MP4 boxes)."""
import hashlib
import io
import os
import struct
import subprocess
import sys

import av
import numpy as np
import pytest
import soundfile as sf
import soxr

from tests.helpers import ROOT
from tts import formats
from tts.assemble import Assembler
from tts.formats import aac, mp3, ogg, wav
from tts.schema import parse

FIVE = ("The first sentence is short. Here comes the second one. A third sentence follows it. "
        "The fourth is nearly the last. And this fifth sentence ends the text.")
SR = 24000
ANY_RATES = (8000, 11025, 16000, 22050, 24000, 44100, 48000)   # a sample of the rates any-rate formats take
CASES = [(c.name, rate) for c in formats.FORMATS.values() for rate in (c.rates or ANY_RATES)]
G711 = {"mulaw": "ULAW", "alaw": "ALAW", "wav_mulaw": "ULAW", "wav_alaw": "ALAW"}   # format: libsndfile's subtype
RAW = {"pcm": {"format": "s16le"}, "mulaw": {"format": "mulaw"}, "alaw": {"format": "alaw"}}   # FFmpeg's names


@pytest.fixture(scope="module")
def speech(engine) -> list[np.ndarray]:
    """The default engine's five sentences, as it made them (about 8 s at 24 kHz)."""
    request = parse({"text": FIVE}, engine.capabilities())
    return [p.samples for p in engine.synthesize(FIVE, request)]


def tone(seconds: float, rate: int = SR) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * 440 * np.arange(int(rate * seconds)) / rate)).astype(np.float32)


def encode(pieces, fmt: str, rate: int, kbps: int | None = None) -> tuple[bytes, int, bytes, Assembler]:
    """(the closed file, its samples, the stream joined, the assembler) of pieces at 24 kHz encoded at `rate`,
    the stream taken after every piece as the service does."""
    a = Assembler(SR, rate, fmt, 200, stream=True, bitrate_kbps=kbps)
    parts = []
    for p in pieces:
        a.add(p)
        parts.append(a.take())
    data, n = a.finish()
    parts.append(a.take())
    return data, n, b"".join(parts), a


# -- decoders -----------------------------------------------------------------------------------------------

def _ulaw_table() -> np.ndarray:
    """G.711 μ-law expansion, as 16-bit values: the code is sent inverted; 3 bits of segment, 4 of step, and the
    segment's biased magnitude doubles from one segment to the next."""
    out = np.zeros(256, np.int16)
    for code in range(256):
        u = ~code & 0xFF
        magnitude = (((u & 0x0F) << 3) + 0x84 << ((u >> 4) & 7)) - 0x84
        out[code] = -magnitude if u & 0x80 else magnitude
    return out


def _alaw_table() -> np.ndarray:
    """G.711 A-law expansion, as 16-bit values: even bits are sent inverted; the first segment is linear, each
    later one doubles the step; the sign bit set means positive."""
    out = np.zeros(256, np.int16)
    for code in range(256):
        a = code ^ 0x55
        step, segment = a & 0x0F, (a >> 4) & 7
        magnitude = (step << 4) + 8 if segment == 0 else ((step << 4) + 0x108) << (segment - 1)
        out[code] = magnitude if a & 0x80 else -magnitude
    return out


EXPAND = {"ULAW": _ulaw_table(), "ALAW": _alaw_table()}


def g711_samples(data: bytes, fmt: str, rate: int) -> tuple[int, int, np.ndarray]:
    """(sample rate, samples the header gives, float samples) of G.711 bytes by this file's tables; a WAV file's
    chunks are walked here too (an unknown length, 0xFFFFFFFF, means up to the end)."""
    if not fmt.startswith("wav"):
        codes = np.frombuffer(data, np.uint8)
        return rate, len(codes), EXPAND[G711[fmt]][codes] / 32768
    at = wav.data_offset(data)
    tag, _, file_rate = struct.unpack_from("<HHI", data, 20)
    assert tag == {"ULAW": 7, "ALAW": 6}[G711[fmt]] and data[12:16] == b"fmt "
    size = struct.unpack_from("<I", data, at - 4)[0]
    codes = np.frombuffer(data[at:at + min(size, len(data) - at)], np.uint8)
    return file_rate, size if size != wav.STREAM_SIZE else len(codes), EXPAND[G711[fmt]][codes] / 32768


def g711_lengths(data: bytes, fmt: str, rate: int) -> tuple[int, float, float]:
    file_rate, reported, samples = g711_samples(data, fmt, rate)
    return file_rate, reported / file_rate, len(samples) / file_rate


def soundfile_lengths(data: bytes, fmt: str, rate: int) -> tuple[int, float, float]:
    """libsndfile's (sample rate, length in seconds from the headers, length decoded)."""
    raw = {"format": "RAW", "subtype": G711.get(fmt, "PCM_16"), "endian": "LITTLE", "samplerate": rate, "channels": 1}
    with sf.SoundFile(io.BytesIO(data), **(raw if fmt in RAW else {})) as f:
        return f.samplerate, f.frames / f.samplerate, len(f.read(dtype="float32")) / f.samplerate


def ffmpeg_decode(data: bytes, fmt: str, rate: int, decoder: str | None = None) -> tuple[int, float, np.ndarray]:
    """FFmpeg's (sample rate, length in seconds from the headers or the size, float samples), by the stream's own
    decoder or the one named."""
    raw = {"options": {"sample_rate": str(rate), "ch_layout": "mono"}, **RAW[fmt]} if fmt in RAW else {}
    with av.open(io.BytesIO(data), **raw) as container:
        stream = container.streams.audio[0]
        ctx = stream.codec_context
        if decoder is not None:
            ctx = av.CodecContext.create(decoder, "r")
            ctx.extradata, ctx.sample_rate, ctx.layout = stream.codec_context.extradata, stream.rate, "mono"
        frames = [f.to_ndarray().reshape(-1) for p in container.demux(stream) for f in ctx.decode(p)]
        samples = np.concatenate(frames) if frames else np.zeros(0)
        if samples.dtype.kind == "i":    # 16-bit PCM, or a fixed-point decoder's Q31
            samples = samples / 2.0 ** (8 * samples.dtype.itemsize - 1)
        return stream.rate, container.duration / av.time_base, samples.astype(np.float32)


def ffmpeg_lengths(data: bytes, fmt: str, rate: int) -> tuple[int, float, float]:
    """FFmpeg's (sample rate, length in seconds from the headers or the size, length decoded)."""
    file_rate, reported, samples = ffmpeg_decode(data, fmt, rate)
    return file_rate, reported, len(samples) / file_rate


def ffmpeg_fixed_lengths(data: bytes, fmt: str, rate: int) -> tuple[int, float, float]:
    """The same by FFmpeg's fixed-point AAC decoder, another implementation of the standard's arithmetic."""
    file_rate, reported, samples = ffmpeg_decode(data, fmt, rate, "aac_fixed")
    return file_rate, reported, len(samples) / file_rate


ADTS_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)


def adts_lengths(data: bytes, fmt: str, rate: int) -> tuple[int, float, float]:
    """The ADTS frame headers': (their rate, their frames' samples, the same); every byte is in a whole frame."""
    frames = list(aac.adts_frames(data))
    assert frames and frames[-1][1] == len(data)
    rates = {ADTS_RATES[(data[s + 2] >> 2) & 0x0F] for s, _ in frames}
    blocks = sum((data[s + 6] & 0x03) + 1 for s, _ in frames)
    assert len(rates) == 1 and all(data[s + 1] & 0x01 for s, _ in frames)   # one rate, no CRC
    return rates.pop(), blocks * aac.FRAME / rate, blocks * aac.FRAME / rate


def boxes(data: bytes, start: int = 0, end: int | None = None):
    """(type, body start, body end) of the MP4 boxes in data[start:end]."""
    pos, end = start, len(data) if end is None else end
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        head = 8
        if size == 1:
            size, head = struct.unpack_from(">Q", data, pos + 8)[0], 16
        assert size >= head and pos + size <= end, f"box {kind} overruns its parent"
        yield kind.decode("latin-1"), pos + head, pos + size
        pos += size


def box(data: bytes, path: str, start: int = 0, end: int | None = None) -> tuple[int, int]:
    """The body (start, end) of the first box at a path like "moov/trak/mdia/mdhd"."""
    first, _, rest = path.partition("/")
    for kind, s, e in boxes(data, start, end):
        if kind == first:
            return (s, e) if not rest else box(data, rest, s, e)
    raise AssertionError(f"no {path} box")


def mp4_lengths(data: bytes, fmt: str, rate: int) -> tuple[int, float, float]:
    """The MP4 index's: (the track's rate, the edit list's length, the sample table's samples less the edit's
    start); creation times are 0 (same request, same bytes)."""
    s, _ = box(data, "moov/mvhd")
    version, created, modified, movie_scale = data[s], *struct.unpack_from(">III", data, s + 4)
    assert version == 0 and created == modified == 0
    s, _ = box(data, "moov/trak/mdia/mdhd")
    track_scale = struct.unpack_from(">I", data, s + 12)[0]
    s, _ = box(data, "moov/trak/edts/elst")
    entries, edit_length, media_start = struct.unpack_from(">IIi", data, s + 4)
    assert data[s] == 0 and entries == 1 and media_start == aac.FRAME   # the priming frame, skipped
    s, _ = box(data, "moov/trak/mdia/minf/stbl/stts")
    counts = struct.unpack_from(f">{2 * struct.unpack_from('>I', data, s + 4)[0]}I", data, s + 8)
    table = sum(n * delta for n, delta in zip(counts[::2], counts[1::2], strict=True))
    return track_scale, edit_length / movie_scale, (table - media_start) / track_scale


BOTH = (("libsndfile", soundfile_lengths), ("FFmpeg", ffmpeg_lengths))
DECODERS = {
    **dict.fromkeys(("wav", "mp3", "ogg", "flac", "pcm"), BOTH),
    **dict.fromkeys(G711, (*BOTH, ("G.711 tables", g711_lengths))),
    "aac": (("FFmpeg", ffmpeg_lengths), ("FFmpeg fixed point", ffmpeg_fixed_lengths), ("ADTS headers", adts_lengths)),
    "m4a": (("FFmpeg", ffmpeg_lengths), ("FFmpeg fixed point", ffmpeg_fixed_lengths), ("MP4 index", mp4_lengths)),
}


def codec_frame(fmt: str, data: bytes, rate: int) -> float:
    """Seconds of one codec frame: a sample for PCM formats, an Opus frame, an MP3 frame, an AAC frame."""
    if fmt == "mp3":
        return mp3.frame_header(data[:4]).samples / rate
    if fmt in ("aac", "m4a"):
        return aac.FRAME / rate
    return 0.020 if fmt == "ogg" else 1 / rate


def test_every_format_has_its_decoders():
    assert set(DECODERS) == set(formats.FORMATS)


@pytest.mark.parametrize("length", ["short", "long"])
@pytest.mark.parametrize("fmt, rate", CASES)
def test_every_format_whole_and_streamed_tells_its_true_length_in_both_decoders(speech, fmt, rate, length):
    pieces = [tone(0.095)] if length == "short" else speech * 3   # under 100 ms, or about 25 s of speech
    data, n, streamed, _ = encode(pieces, fmt, rate)
    true = n / rate
    frame = codec_frame(fmt, data, rate)
    assert (length == "short") == (true <= 0.1) and (length == "long") == (true > 20)
    if fmt in ("pcm", "mulaw", "alaw"):
        assert len(data) == len(streamed) == formats.get(fmt).sample_bytes * n
    for kind, file in (("whole", data), ("streamed", streamed)):
        for decoder, lengths in DECODERS[fmt]:
            file_rate, reported, decoded = lengths(file, fmt, rate)
            assert file_rate == (48000 if (fmt, decoder) == ("ogg", "FFmpeg") else rate)  # FFmpeg decodes Opus at 48k
            where = f"{kind} {fmt} at {rate} Hz, {decoder}: {reported:.4f} s reported, {decoded:.4f} s decoded, " \
                    f"{true:.4f} s true"
            if fmt in ("aac", "m4a"):
                # The priming frame is skipped (an edit list) or left out (ADTS); the last frame's padding stays.
                assert 0 <= decoded - true < frame, where
                if (fmt, decoder) == ("aac", "ADTS headers") or fmt == "m4a":
                    assert abs(reported - true) < frame, where
                else:   # ADTS has no length: FFmpeg estimates one from the size and the first frames' bitrate
                    assert abs(reported - true) < max(frame, 0.1 * true), where
                continue
            if (fmt, kind) != ("mp3", "streamed"):
                assert abs(reported - true) <= frame and abs(decoded - true) <= frame, where
                continue
            # A stream has no info frame (it is rewritten at close): decoders cannot trim LAME's delay and padding.
            bound = (mp3.UNTRIMMED + mp3.frame_header(data[:4]).samples) / rate
            drift = 0.0
            if decoder == "libsndfile" and rate % 11025 == 0:
                # libsndfile estimates from the first frame's size, one padding byte under the average at 44.1 kHz
                # and its halves (no bitrate gives whole-byte frames there).
                drift = true / mp3.frame_header(streamed[:4]).length
            assert 0 <= decoded - true < bound and 0 <= reported - true < bound + drift, where


def reference(pieces, rate: int) -> np.ndarray:
    """The samples every format encodes at `rate`: the same pieces through the same assembler, as 16-bit PCM."""
    data, _, _, _ = encode(pieces, "pcm", rate)
    return np.frombuffer(data, "<i2") / 32768


def lag_and_correlation(decoded: np.ndarray, true: np.ndarray, most: int = 2048) -> tuple[int, float]:
    """The shift (samples, up to `most` either way: two AAC frames) that best lines the decoded audio up with the
    true one, over its first three seconds or so, and their correlation there."""
    n = min(len(true), len(decoded), 72000) - 2 * most
    scores = np.correlate(decoded[:n + 2 * most], true[most:most + n], mode="valid")   # decoded[k:k+n] . true
    lag = int(np.argmax(scores)) - most
    a, b = decoded[most + lag:most + lag + n], true[most:most + n]
    return lag, float(np.corrcoef(a, b)[0, 1])


@pytest.mark.parametrize("fmt, rate", [(f, r) for f, r in CASES if formats.get(f).lossy and r in (8000, 24000)]
                         + [("aac", 48000), ("m4a", 44100)])
def test_a_lossy_file_decodes_to_the_audio_that_went_in_not_shifted(speech, fmt, rate):
    """Length alone would pass a file of silence, or one whose audio starts a priming frame late."""
    data, _, _, _ = encode(speech, fmt, rate)
    true = reference(speech, rate)
    file_rate, _, decoded = ffmpeg_decode(data, fmt, rate)
    if file_rate != rate:   # Opus, decoded at 48 kHz: back to the rate it was encoded at
        decoded = soxr.resample(decoded, file_rate, rate)
    lag, correlation = lag_and_correlation(decoded, true)
    assert lag == 0 and correlation > 0.9, (lag, correlation)


@pytest.mark.parametrize("fmt", sorted(G711))
def test_g711_decodes_in_every_decoder_to_the_audio_within_its_quantization(speech, fmt):
    data, _, streamed, _ = encode(speech, fmt, 8000)
    true = reference(speech, 8000)
    for kind, file in (("whole", data), ("streamed", streamed)):
        _, _, ours = g711_samples(file, fmt, 8000)
        theirs = sf.read(io.BytesIO(file), dtype="float32",
                         **({} if fmt.startswith("wav") else {"format": "RAW", "subtype": G711[fmt],
                                                                "samplerate": 8000, "channels": 1}))[0]
        ffmpeg = ffmpeg_decode(file, fmt, 8000)[2]
        assert len(ours) == len(theirs) == len(ffmpeg) == len(true), kind
        assert np.array_equal(ours.astype(np.float32), theirs) and np.array_equal(ours.astype(np.float32), ffmpeg)
        # 8-bit companding: about 38 dB of signal to quantization noise on speech (the wrong law: below 0 dB)
        noise = np.sum((ours - true) ** 2) / np.sum(true ** 2)
        assert 10 * np.log10(1 / noise) > 30, kind


@pytest.mark.parametrize("subtype", ["ULAW", "ALAW"])
def test_the_g711_tables_are_libsndfiles_and_ffmpegs_on_every_code(subtype):
    codes = bytes(range(256))
    theirs, _ = sf.read(io.BytesIO(codes), dtype="int16", format="RAW", subtype=subtype, samplerate=8000,
                        channels=1)
    ffmpeg = ffmpeg_decode(codes, {"ULAW": "mulaw", "ALAW": "alaw"}[subtype], 8000)[2]
    assert np.array_equal(EXPAND[subtype], theirs) and np.array_equal(EXPAND[subtype] / 32768, ffmpeg)
    # A few codes from G.711's tables (Table 2a/2b, as 16-bit values): silence, the largest magnitudes.
    ulaw, alaw = EXPAND["ULAW"], EXPAND["ALAW"]
    assert (ulaw[0xFF], ulaw[0x7F], ulaw[0x80], ulaw[0x00]) == (0, 0, 32124, -32124)
    assert (alaw[0xD5], alaw[0x55], alaw[0xAA], alaw[0x2A]) == (8, -8, 32256, -32256)


@pytest.mark.parametrize("fmt, rate", [(f, r) for f, r in CASES if r in (8000, 24000, 44100, 48000)])
def test_a_stream_is_what_its_closed_file_gives_and_the_same_audio_gives_the_same_bytes(speech, fmt, rate):
    data, n, streamed, a = encode(speech, fmt, rate)
    codec = formats.get(fmt)
    # A cache hit streams Codec.stream_of(stored file): byte for byte what the miss streamed.
    assert codec.stream_of(data) == streamed and a.streamed_bytes == len(streamed)
    again, _, streamed_again, _ = encode(speech, fmt, rate)
    assert again == data and streamed_again == streamed
    if codec.sample_bytes is not None:
        assert a.encoded_bytes == n * codec.sample_bytes


def test_aac_and_m4a_are_the_same_bytes_in_another_process_and_carry_no_encoder_version(speech):
    """FFmpeg's encoder has no randomness, and bitexact keeps its version string out: the bytes do not depend on
    the process, the time or the FFmpeg build's name."""
    script = ("import hashlib, sys, numpy as np\n"
              "from tts.assemble import Assembler\n"
              "x = np.frombuffer(sys.stdin.buffer.read(), np.float32)\n"
              "for fmt in ('aac', 'm4a'):\n"
              "    a = Assembler(24000, 24000, fmt, 200)\n"
              "    a.add(x)\n"
              "    print(hashlib.sha256(a.finish()[0]).hexdigest())\n")
    pieces = speech[:2]
    done = subprocess.run([sys.executable, "-c", script], input=np.concatenate(pieces).tobytes(), cwd=ROOT,
                          capture_output=True, timeout=120, env={**os.environ, "PYTHONPATH": ROOT})
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    here = []
    for fmt in ("aac", "m4a"):
        a = Assembler(SR, SR, fmt, 200)
        a.add(np.concatenate(pieces))
        data = a.finish()[0]
        assert b"Lavf" not in data and b"Lavc" not in data
        here.append(hashlib.sha256(data).hexdigest())
    assert done.stdout.decode().split() == here


def test_a_wav_stream_starts_with_the_header_of_a_stream_of_unknown_length(speech):
    data, n, streamed, _ = encode(speech, "wav", SR)
    at = wav.data_offset(data)
    assert at == 44 and data[40:44] == (2 * n).to_bytes(4, "little")
    expected = bytes.fromhex("52494646ffffffff57415645666d74201000000001000100c05d000080bb00000200100064617461ffffffff")
    assert streamed[:44] == expected and streamed[44:] == data[44:]


@pytest.mark.parametrize("fmt", ["wav_mulaw", "wav_alaw"])
def test_a_g711_wav_stream_gives_no_length_and_leaves_out_the_closed_files_pad_byte(fmt):
    data, n, streamed, _ = encode([tone(0.5 + 3 / SR)], fmt, 8000)
    at = wav.data_offset(data)
    assert n % 2 == 1 and len(data) == at + n + 1                     # an odd count: RIFF pads the chunk
    fact = data.index(b"fact")
    assert struct.unpack_from("<I", data, fact + 8)[0] == n           # the closed file counts its samples
    head = streamed[:at]
    assert head[4:8] == head[at - 4:at] == b"\xff" * 4 and struct.unpack_from("<I", head, fact + 8)[0] == 0
    assert streamed[at:] == data[at:at + n]


def test_mp3_is_constant_bitrate_so_its_size_tells_its_length(speech):
    """LAME's variable bitrate began a stream with an 8 kbit/s frame (silence), and players that estimate the length
    from the first frame's bitrate read 6 s as 33 s."""
    for rate, kbps in mp3.KBPS.items():
        data, _, streamed, _ = encode(speech[:2], "mp3", rate)
        assert mp3_headers(streamed) == {(kbps, rate)}
        # The closed file's first frame is LAME's info frame: frame count, delay and padding for decoders.
        assert mp3.frame_header(data[:4]).kbps == kbps and b"Info" in data[:mp3.frame_length(data[:4])]


def mp3_headers(streamed: bytes) -> set[tuple[int, int]]:
    """The (kbit/s, rate) pairs of a stream's frames, which tile it exactly."""
    pos, headers = 0, set()
    while pos < len(streamed):
        header = mp3.frame_header(streamed[pos:pos + 4])
        headers.add((header.kbps, header.rate))
        pos += header.length
    assert pos == len(streamed)
    return headers


@pytest.mark.parametrize("rate", mp3.KBPS)
def test_every_mp3_bitrate_a_request_may_ask_for_is_what_it_gets_with_its_info_frame(speech, rate):
    allowed = formats.get("mp3").bitrates(rate)
    for kbps in allowed.steps:
        data, n, streamed, _ = encode(speech[:1], "mp3", rate, kbps)
        assert mp3_headers(streamed) == {(kbps, rate)}, kbps
        assert b"Info" in data[:mp3.frame_length(data[:4])], kbps     # so decoders trim the closed file exactly
        assert len(sf.read(io.BytesIO(data))[0]) == n, kbps
    # One MPEG bitrate step lower, LAME would leave the info frame out: not offered.
    table = mp3._KBPS_INDEX[3 if rate >= 32000 else 2]
    assert table[table.index(allowed.low) - 1] not in allowed


def average_kbps(fmt: str, pieces, rate: int, kbps: int | None) -> float:
    data, n, _, _ = encode(pieces, fmt, rate, kbps)
    return len(data) * 8 / (n / rate) / 1000


@pytest.mark.parametrize("fmt, rate", [("ogg", 24000), ("ogg", 48000), ("aac", 8000), ("aac", 24000),
                                       ("aac", 44100), ("m4a", 16000)])
def test_opus_and_aac_bitrates_steer_the_encoder_within_the_range_offered(speech, fmt, rate):
    allowed = formats.get(fmt).bitrates(rate)
    targets = sorted({allowed.low, 24, 32, 48, allowed.high} & set(range(allowed.low, allowed.high + 1)))
    got = [average_kbps(fmt, speech[:3], rate, k) for k in targets]
    assert all(a < b for a, b in zip(got, got[1:], strict=False)), got         # more asked, more spent
    for kbps, average in zip(targets, got, strict=True):
        # Targets, not caps: speech is cheap to code at the top of a range (AAC at 44.1 kHz spends 120 of 176
        # kbit/s), and FFmpeg's AAC encoder spends up to 9 kbit/s over the lowest targets.
        assert 0.45 * kbps < average < 1.25 * kbps + 10, (kbps, average)


def test_a_bitrate_is_refused_outside_what_the_codec_takes():
    mp3_24k = formats.get("mp3").bitrates(24000)
    assert (mp3_24k.low, mp3_24k.high, mp3_24k.default) == (64, 160, 64) and str(mp3_24k) == \
        "64, 80, 96, 112, 128, 144, 160"
    assert str(formats.get("ogg").bitrates(48000)) == "6 to 256" and formats.get("ogg").bitrates(48000).default is None
    assert (formats.get("aac").bitrates(8000).high, formats.get("aac").bitrates(48000).high) == (32, 192)
    assert 72 not in mp3_24k and True not in formats.get("ogg").bitrates(24000) and 64 in mp3_24k
    assert formats.get("wav").bitrates(24000) is None and formats.get("mp3").bitrates(10000) is None
    for fmt, rate, kbps in (("mp3", 24000, 56), ("mp3", 44100, 48), ("ogg", 24000, 300), ("aac", 8000, 48),
                            ("aac", 24000, 8), ("wav", 24000, 64), ("mulaw", 8000, 64)):
        with pytest.raises(ValueError, match=f"{kbps} kbit/s"):
            formats.get(fmt).open(io.BytesIO(), rate, kbps)


def test_the_frame_length_comes_from_its_header():
    # MPEG-2 layer III, 64 kbit/s, 24 kHz: 72 * 64000 / 24000 = 192 bytes; MPEG-1, 128 kbit/s, 44.1 kHz + padding
    assert mp3.frame_length(bytes.fromhex("fff384c4")) == 192
    assert mp3.frame_length(bytes.fromhex("fffb9264")) == 418
    with pytest.raises(ValueError):
        mp3.frame_length(b"RIFF")
    # ADTS, MPEG-4 AAC-LC, 24 kHz, mono, no CRC, a 371-byte frame
    header = bytes.fromhex("fff158402e7ffc")
    assert aac.adts_frame_length(header) == 371 and ADTS_RATES[(header[2] >> 2) & 0x0F] == 24000
    with pytest.raises(ValueError):
        aac.adts_frame_length(b"OggS\0\0\0")
    assert list(aac.adts_frames(header + bytes(364) + header)) == [(0, 371)]   # the second is not whole yet


def test_an_aac_stream_leaves_in_whole_frames_as_the_audio_comes(speech):
    a = Assembler(SR, SR, "aac", 200, stream=True)
    sizes = []
    for piece in speech:
        a.add(piece)
        chunk = a.take()
        sizes.append(len(chunk))
        assert not chunk or list(aac.adts_frames(chunk))[-1][1] == len(chunk)
    a.finish()
    assert sizes[0] > 0 and all(sizes)     # no waiting for the end: each piece's frames leave with it


def test_ogg_pages_carry_the_fixed_serial_and_checksums_libogg_accepts(speech):
    data, n, _, _ = encode(speech[:2], "ogg", SR)
    starts = [start for start, _ in ogg.pages(data)]
    assert len(starts) > 3 and all(data[s + 14:s + 18] == ogg.SERIAL.to_bytes(4, "little") for s in starts)
    samples, _ = sf.read(io.BytesIO(data))  # libogg drops pages whose checksum is wrong
    assert len(samples) == n
    with pytest.raises(ValueError, match="a page is cut"):
        ogg.set_serial(data[:-1])
    assert ogg.whole_pages_end(data[:-1], 0) == starts[-1]


def test_a_file_with_no_audio_is_still_a_file_of_its_format():
    for name in formats.FORMATS:
        data, n = Assembler(SR, formats.get(name).default_rate(SR), name, 200).finish()
        assert n == 0, name
        if name == "m4a":   # FFmpeg writes no track for no samples: a movie of nothing
            assert data[4:8] == b"ftyp" and box(data, "moov/mvhd")
        elif name in ("wav", "wav_mulaw", "wav_alaw"):
            assert wav.data_offset(data) == len(data)


def test_formats_and_their_aliases_resolve_to_one_codec_each():
    assert list(formats.FORMATS) == ["wav", "mp3", "ogg", "flac", "pcm", "aac", "m4a", "mulaw", "alaw", "wav_mulaw",
                                     "wav_alaw"]
    assert {a: formats.find(a).name for a in ("opus", "mpeg", "wave", "ulaw", "pcma", "adts", "g711_ulaw")} == \
        {"opus": "ogg", "mpeg": "mp3", "wave": "wav", "ulaw": "mulaw", "pcma": "alaw", "adts": "aac",
         "g711_ulaw": "mulaw"}
    assert formats.find("ulaw_8000") is None and formats.find(formats.DEFAULT) is formats.get("wav")
    assert formats.get("ogg").nearest_rate(22050) == 24000 and formats.get("flac").nearest_rate(22050) == 22050
    assert not formats.get("mp3").allows(10000) and formats.get("wav").allows(10000)
    assert not formats.get("mulaw").allows(24000) and formats.get("aac").allows(44100)
    # G.711 is a telephone format: 8 kHz unless asked, whatever the voice's rate; the others follow the voice.
    assert [formats.get(f).default_rate(24000) for f in ("mulaw", "wav_alaw", "wav", "ogg", "aac")] == \
        [8000, 8000, 24000, 24000, 24000]
    assert formats.get("mp3").default_rate(10000) == 11025
    assert {c.name: c.extension for c in formats.FORMATS.values() if c.extension != c.name} == \
        {"wav_mulaw": "wav", "wav_alaw": "wav"}
    assert len({alias for c in formats.FORMATS.values() for alias in c.aliases} & set(formats.FORMATS)) == 0
