"""Output formats (tts.formats): every format, whole and streamed, at every rate it takes, opens in libsndfile and in
FFmpeg and tells its true length; a stream is what its closed file gives; the same audio gives the same bytes."""
import io

import av
import numpy as np
import pytest
import soundfile as sf

from tts import formats
from tts.assemble import Assembler
from tts.formats import mp3, ogg, wav
from tts.schema import parse

FIVE = ("The first sentence is short. Here comes the second one. A third sentence follows it. "
        "The fourth is nearly the last. And this fifth sentence ends the text.")
SR = 24000
ANY_RATES = (8000, 11025, 16000, 22050, 24000, 44100, 48000)   # a sample of the rates any-rate formats take
CASES = [(c.name, rate) for c in formats.FORMATS.values() for rate in (c.rates or ANY_RATES)]


@pytest.fixture(scope="module")
def speech(engine) -> list[np.ndarray]:
    """The default engine's five sentences, as it made them (about 8 s at 24 kHz)."""
    request = parse({"text": FIVE}, engine.capabilities())
    return [p.samples for p in engine.synthesize(FIVE, request)]


def tone(seconds: float, rate: int = SR) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * 440 * np.arange(int(rate * seconds)) / rate)).astype(np.float32)


def encode(pieces, fmt: str, rate: int) -> tuple[bytes, int, bytes, Assembler]:
    """(the closed file, its samples, the stream joined, the assembler) of pieces at 24 kHz encoded at `rate`,
    the stream taken after every piece as the service does."""
    a = Assembler(SR, rate, fmt, 200, stream=True)
    parts = []
    for p in pieces:
        a.add(p)
        parts.append(a.take())
    data, n = a.finish()
    parts.append(a.take())
    return data, n, b"".join(parts), a


def soundfile_lengths(data: bytes, fmt: str, rate: int) -> tuple[int, float, float]:
    """libsndfile's (sample rate, length in seconds from the headers, length decoded)."""
    raw = {"format": "RAW", "subtype": "PCM_16", "endian": "LITTLE", "samplerate": rate, "channels": 1}
    with sf.SoundFile(io.BytesIO(data), **(raw if fmt == "pcm" else {})) as f:
        return f.samplerate, f.frames / f.samplerate, len(f.read(dtype="float32")) / f.samplerate


def ffmpeg_lengths(data: bytes, fmt: str, rate: int) -> tuple[int, float, float]:
    """FFmpeg's (sample rate, length in seconds from the headers or the size, length decoded)."""
    raw = {"format": "s16le", "options": {"sample_rate": str(rate), "ch_layout": "mono"}}
    with av.open(io.BytesIO(data), **(raw if fmt == "pcm" else {})) as container:
        stream = container.streams.audio[0]
        decoded = sum(frame.samples for frame in container.decode(stream))
        return stream.rate, container.duration / av.time_base, decoded / stream.rate


def codec_frame(fmt: str, data: bytes, rate: int) -> float:
    """Seconds of one codec frame: a sample for PCM formats, an Opus frame, an MP3 frame."""
    if fmt == "mp3":
        return mp3.frame_header(data[:4]).samples / rate
    return 0.020 if fmt == "ogg" else 1 / rate


@pytest.mark.parametrize("length", ["short", "long"])
@pytest.mark.parametrize("fmt, rate", CASES)
def test_every_format_whole_and_streamed_tells_its_true_length_in_both_decoders(speech, fmt, rate, length):
    pieces = [tone(0.095)] if length == "short" else speech * 3   # under 100 ms, or about 25 s of speech
    data, n, streamed, _ = encode(pieces, fmt, rate)
    true = n / rate
    frame = codec_frame(fmt, data, rate)
    assert (length == "short") == (true <= 0.1) and (length == "long") == (true > 20)
    if fmt == "pcm":
        assert len(data) == len(streamed) == 2 * n
    for kind, file in (("whole", data), ("streamed", streamed)):
        for decoder, lengths in (("libsndfile", soundfile_lengths), ("FFmpeg", ffmpeg_lengths)):
            file_rate, reported, decoded = lengths(file, fmt, rate)
            assert file_rate == (48000 if (fmt, decoder) == ("ogg", "FFmpeg") else rate)  # FFmpeg decodes Opus at 48k
            where = f"{kind} {fmt} at {rate} Hz, {decoder}: {reported:.4f} s reported, {decoded:.4f} s decoded, " \
                    f"{true:.4f} s true"
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


def test_a_wav_stream_starts_with_the_header_of_a_stream_of_unknown_length(speech):
    data, n, streamed, _ = encode(speech, "wav", SR)
    at = wav.data_offset(data)
    assert at == 44 and data[40:44] == (2 * n).to_bytes(4, "little")
    expected = bytes.fromhex("52494646ffffffff57415645666d74201000000001000100c05d000080bb00000200100064617461ffffffff")
    assert streamed[:44] == expected and streamed[44:] == data[44:]


def test_mp3_is_constant_bitrate_so_its_size_tells_its_length(speech):
    """LAME's variable bitrate began a stream with an 8 kbit/s frame (silence), and players that estimate the length
    from the first frame's bitrate read 6 s as 33 s."""
    for rate, kbps in mp3.KBPS.items():
        data, _, streamed, _ = encode(speech[:2], "mp3", rate)
        pos, headers = 0, set()
        while pos < len(streamed):
            header = mp3.frame_header(streamed[pos:pos + 4])
            headers.add((header.kbps, header.rate))
            pos += header.length
        assert pos == len(streamed) and headers == {(kbps, rate)}
        # The closed file's first frame is LAME's info frame: frame count, delay and padding for decoders.
        assert mp3.frame_header(data[:4]).kbps == kbps and b"Info" in data[:mp3.frame_length(data[:4])]


def test_the_frame_length_comes_from_its_header():
    # MPEG-2 layer III, 64 kbit/s, 24 kHz: 72 * 64000 / 24000 = 192 bytes; MPEG-1, 128 kbit/s, 44.1 kHz + padding
    assert mp3.frame_length(bytes.fromhex("fff384c4")) == 192
    assert mp3.frame_length(bytes.fromhex("fffb9264")) == 418
    with pytest.raises(ValueError):
        mp3.frame_length(b"RIFF")


def test_ogg_pages_carry_the_fixed_serial_and_checksums_libogg_accepts(speech):
    data, n, _, _ = encode(speech[:2], "ogg", SR)
    starts = [start for start, _ in ogg.pages(data)]
    assert len(starts) > 3 and all(data[s + 14:s + 18] == ogg.SERIAL.to_bytes(4, "little") for s in starts)
    samples, _ = sf.read(io.BytesIO(data))  # libogg drops pages whose checksum is wrong
    assert len(samples) == n
    with pytest.raises(ValueError, match="a page is cut"):
        ogg.set_serial(data[:-1])
    assert ogg.whole_pages_end(data[:-1], 0) == starts[-1]


def test_formats_and_their_aliases_resolve_to_one_codec_each():
    assert list(formats.FORMATS) == ["wav", "mp3", "ogg", "flac", "pcm"]
    assert {a: formats.find(a).name for a in ("opus", "mpeg", "wave")} == {"opus": "ogg", "mpeg": "mp3",
                                                                            "wave": "wav"}
    assert formats.find("aac") is None and formats.find(formats.DEFAULT) is formats.get("wav")
    assert formats.get("ogg").nearest_rate(22050) == 24000 and formats.get("flac").nearest_rate(22050) == 22050
    assert not formats.get("mp3").allows(10000) and formats.get("wav").allows(10000)
