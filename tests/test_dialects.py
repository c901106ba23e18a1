"""Vendors' format names (tts.formats.dialects): every name a vendor documents resolves to the worker's format, rate
and bitrate or to an error naming the field to change and what it takes; two fields that disagree are an error
naming both; whatever resolves can be encoded."""
import copy
import io

import pytest

from tts import formats
from tts.formats.dialects import FIELDS, Choice, DialectError, in_own_terms, resolve

NATIVE = 24000

ELEVENLABS = [   # every output_format in ElevenLabs' documentation (shared/notes/client-dialects.md)
    ("mp3_44100_64", ("mp3", 44100, 64)), ("mp3_44100_96", ("mp3", 44100, 96)),
    ("mp3_44100_128", ("mp3", 44100, 128)), ("mp3_44100_192", ("mp3", 44100, 192)),
    *[(f"pcm_{r}", ("pcm", r, None)) for r in (8000, 16000, 22050, 24000, 44100, 48000)],
    ("ulaw_8000", ("mulaw", 8000, None)), ("alaw_8000", ("alaw", 8000, None)),
    *[(f"opus_48000_{k}", ("ogg", 48000, k)) for k in (32, 64, 96, 128, 192)],
]

RESOLVED = [
    # OpenAI: response_format; its pcm is 24 kHz unless the request names a rate
    ({"response_format": "mp3"}, ("mp3", None, None)),
    ({"response_format": "opus"}, ("ogg", None, None)),
    ({"response_format": "aac"}, ("aac", None, None)),
    ({"response_format": "flac"}, ("flac", None, None)),
    ({"response_format": "wav"}, ("wav", None, None)),
    ({"response_format": "pcm"}, ("pcm", 24000, None)),
    ({"response_format": "PCM ", "sample_rate": 16000}, ("pcm", 16000, None)),
    ({"response_format": "ulaw"}, ("mulaw", None, None)),           # the worker's own names work there too
    ({"response_format": "mp3", "format": "mpeg", "bitrate_kbps": 96}, ("mp3", None, 96)),
    # ElevenLabs: output_format, with the worker's fields beside it when they agree
    ({"output_format": "mp3_44100_128", "sample_rate": 44100, "bitrate_kbps": 128}, ("mp3", 44100, 128)),
    ({"output_format": "ulaw_8000", "format": "mulaw"}, ("mulaw", 8000, None)),
    ({"output_format": "ulaw_16000"}, ("mulaw", 16000, None)),
    ({"output_format": "pcm_32000"}, ("pcm", 32000, None)),
    ({"output_format": "MP3_22050_64"}, ("mp3", 22050, 64)),
    # Deepgram: encoding, container (wav by default for the PCM encodings), sample_rate, bit_rate in bit/s
    ({"encoding": "linear16"}, ("wav", None, None)),
    ({"encoding": "linear16", "container": "wav", "sample_rate": 16000}, ("wav", 16000, None)),
    ({"encoding": "linear16", "container": "none"}, ("pcm", 24000, None)),
    ({"encoding": "linear16", "container": "none", "sample_rate": 8000}, ("pcm", 8000, None)),
    ({"encoding": "mulaw"}, ("wav_mulaw", None, None)),
    ({"encoding": "mulaw", "container": "none", "sample_rate": 8000}, ("mulaw", 8000, None)),
    ({"encoding": "alaw", "sample_rate": 16000}, ("wav_alaw", 16000, None)),
    ({"encoding": "alaw", "container": "NONE"}, ("alaw", None, None)),
    ({"encoding": "mp3"}, ("mp3", None, None)),
    ({"encoding": "mp3", "bit_rate": 64000}, ("mp3", None, 64)),
    ({"encoding": "mp3", "container": "none", "bit_rate": 128000, "sample_rate": 44100}, ("mp3", 44100, 128)),
    ({"encoding": "opus"}, ("ogg", None, None)),
    ({"encoding": "opus", "container": "ogg", "bit_rate": 12000, "sample_rate": 48000}, ("ogg", 48000, 12)),
    ({"encoding": "flac", "sample_rate": 22050}, ("flac", 22050, None)),
    ({"encoding": "aac", "bit_rate": 32000}, ("aac", None, 32)),
    ({"encoding": "mulaw", "format": "wav_mulaw"}, ("wav_mulaw", None, None)),
    ({"bit_rate": 64000, "format": "mp3"}, ("mp3", None, 64)),
    ({"bit_rate": 48000.0, "format": "aac", "sample_rate": 16000}, ("aac", 16000, 48)),
    # Cartesia: an output_format object
    ({"output_format": {"container": "raw", "encoding": "pcm_mulaw", "sample_rate": 8000}}, ("mulaw", 8000, None)),
    ({"output_format": {"container": "raw", "encoding": "pcm_alaw", "sample_rate": 8000}}, ("alaw", 8000, None)),
    ({"output_format": {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 16000}}, ("pcm", 16000, None)),
    ({"output_format": {"container": "RAW", "encoding": "PCM_S16LE", "sample_rate": 44100.0}}, ("pcm", 44100, None)),
    ({"output_format": {"container": "wav", "encoding": "pcm_s16le", "sample_rate": 22050}}, ("wav", 22050, None)),
    ({"output_format": {"container": "wav", "encoding": "pcm_mulaw", "sample_rate": 8000}},
     ("wav_mulaw", 8000, None)),
    ({"output_format": {"container": "wav", "encoding": "pcm_alaw"}}, ("wav_alaw", None, None)),
    ({"output_format": {"container": "wav"}}, ("wav", None, None)),
    ({"output_format": {"container": "mp3", "sample_rate": 44100, "bit_rate": 128000}}, ("mp3", 44100, 128)),
    ({"output_format": {"container": "mp3", "encoding": "pcm_s16le", "sample_rate": 24000}}, ("mp3", 24000, None)),
    ({"output_format": {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 24000}, "sample_rate": 24000},
     ("pcm", 24000, None)),
    *[({"output_format": name}, want) for name, want in ELEVENLABS],
]

REFUSED = [   # (input, the field named, words the message must hold)
    # ElevenLabs: names the worker cannot encode, or does not know
    ({"output_format": "mp3_44100_32"}, "output_format", ["at 44100 Hz", "32 kbit/s", "56, 64, 80"]),
    ({"output_format": "mp3_22050_32"}, "output_format", ["at 22050 Hz", "56, 64, 80, 96"]),
    ({"output_format": "opus_44100_64"}, "output_format", ["44100 Hz", "ogg", "8000, 12000, 16000, 24000, 48000"]),
    ({"output_format": "ulaw_24000"}, "output_format", ["24000 Hz", "mulaw", "8000, 16000"]),
    ({"output_format": "mp3_44100"}, "output_format", ["unknown ElevenLabs", "mp3_<rate>_<kbit/s>"]),
    ({"output_format": "pcm_16000_16"}, "output_format", ["unknown ElevenLabs", "pcm_<rate>"]),
    ({"output_format": "flac_44100"}, "output_format", ["unknown ElevenLabs", "ulaw_8000"]),
    ({"output_format": "pcm_x"}, "output_format", ["unknown ElevenLabs"]),
    ({"output_format": 44100}, "output_format", ["ElevenLabs name", "Cartesia object", "got int"]),
    # contradictions: both fields named
    ({"output_format": "mp3_44100_128", "sample_rate": 16000}, "output_format",
     ["output_format 'mp3_44100_128'", "sample_rate 16000", "44100 Hz and 16000 Hz"]),
    ({"output_format": "mp3_44100_128", "bitrate_kbps": 64}, "output_format", ["bitrate_kbps 64", "128 kbit/s"]),
    ({"encoding": "mulaw", "format": "wav"}, "encoding", ["encoding 'mulaw'", "format 'wav'", "wav_mulaw and wav"]),
    ({"response_format": "mp3", "output_format": "pcm_16000"}, "response_format",
     ["response_format 'mp3'", "output_format 'pcm_16000'", "mp3 and pcm"]),
    ({"response_format": "wav", "encoding": "linear16", "container": "none"}, "response_format", ["wav and pcm"]),
    ({"output_format": {"container": "raw", "encoding": "pcm_s16le", "sample_rate": 16000}, "sample_rate": 8000},
     "output_format.sample_rate", ["output_format.sample_rate 16000", "sample_rate 8000"]),
    ({"encoding": "mp3", "bit_rate": 64000, "bitrate_kbps": 96}, "bit_rate", ["bit_rate 64000", "bitrate_kbps 96"]),
    # Deepgram
    ({"encoding": "speex"}, "encoding", ["unknown encoding 'speex'", "linear16, mulaw, alaw, mp3, opus, flac, aac"]),
    ({"encoding": "opus", "container": "none"}, "container", ["cannot hold encoding opus", "ogg"]),
    ({"encoding": "flac", "container": "wav"}, "container", ["cannot hold encoding flac", "none"]),
    ({"encoding": "mulaw", "container": "ogg"}, "container", ["wav or none"]),
    ({"container": "wav"}, "container", ["goes with encoding"]),
    ({"encoding": "mulaw", "sample_rate": 24000}, "sample_rate",
     ["24000 Hz cannot be encoded as wav_mulaw", "from encoding 'mulaw'", "8000, 16000 Hz"]),
    ({"encoding": "mp3", "bit_rate": 48000}, "bit_rate", ["at 24000 Hz", "48000 bit/s", "64000, 80000"]),  # native
    ({"encoding": "mp3", "bit_rate": 48000, "sample_rate": 44100}, "bit_rate", ["at 44100 Hz", "56000, 64000"]),
    ({"encoding": "aac", "bit_rate": 64000, "sample_rate": 8000}, "bit_rate", ["16000 to 32000 bit/s"]),
    ({"format": "aac", "bitrate_kbps": 64, "sample_rate": 8000, "encoding": "aac"}, "bitrate_kbps",
     ["64 kbit/s", "16 to 32 kbit/s"]),
    ({"encoding": "linear16", "bit_rate": 32000}, "bit_rate", ["has no bitrate setting", "mp3, ogg, aac, m4a"]),
    ({"encoding": "mp3", "bit_rate": 64500}, "bit_rate", ["multiple of 1000"]),
    ({"encoding": "mp3", "bit_rate": True}, "bit_rate", ["positive whole number"]),
    ({"encoding": 7}, "encoding", ["must be a string"]),
    ({"encoding": "mulaw", "sample_rate": "8000"}, "sample_rate", ["positive whole number", "'8000'"]),
    ({"bit_rate": 32000}, "bit_rate", ["wav has no bitrate setting"]),       # the default format
    # Cartesia
    ({"output_format": {"container": "raw", "encoding": "pcm_f32le", "sample_rate": 44100}},
     "output_format.encoding", ["pcm_f32le is not available", "pcm_s16le"]),
    ({"output_format": {"container": "raw", "sample_rate": 8000}}, "output_format.encoding", ["required"]),
    ({"output_format": {"container": "ogg", "encoding": "pcm_s16le"}}, "output_format.container",
     ["raw, wav or mp3"]),
    ({"output_format": {"encoding": "pcm_s16le", "sample_rate": 8000}}, "output_format.container",
     ["raw, wav or mp3"]),
    ({"output_format": {"container": "raw", "encoding": "pcm_s16le", "sample_rat": 8000}},
     "output_format.sample_rat", ["unknown field", "container, encoding, sample_rate, bit_rate"]),
    ({"output_format": {"container": "raw", "encoding": "pcm_mulaw", "sample_rate": 22050}},
     "output_format.sample_rate", ["22050 Hz cannot be encoded as mulaw", "8000, 16000 Hz"]),
    ({"output_format": {"container": "wav", "encoding": "pcm_s16le", "bit_rate": 128000}},
     "output_format.bit_rate", ["wav", "no bitrate setting"]),
    ({"output_format": {"container": "mp3", "sample_rate": 44100, "bit_rate": 32000}},
     "output_format.bit_rate", ["32000 bit/s", "56000, 64000"]),
    # the worker's own format, beside a vendor's field, must be a format
    ({"format": "xyz", "encoding": "mp3"}, "format", ["unsupported format 'xyz'", "wav, mp3, ogg"]),
    ({"response_format": "aiff"}, "response_format", ["unsupported format 'aiff'", "m4a, mulaw"]),
]


@pytest.mark.parametrize("raw, want", RESOLVED, ids=[repr(r) for r, _ in RESOLVED])
def test_a_vendors_format_fields_resolve_to_the_workers_format_rate_and_bitrate(raw, want):
    before = copy.deepcopy(raw)
    got = resolve(raw, NATIVE)
    assert got == Choice(*want) and raw == before     # pure: the input is left as it was
    codec = formats.get(got.format)
    rate = got.sample_rate or codec.default_rate(NATIVE)
    assert codec.allows(rate)
    codec.open(io.BytesIO(), rate, got.bitrate_kbps).close()   # what resolves, the codec takes


@pytest.mark.parametrize("raw, field, words", REFUSED, ids=[repr(r) for r, _, _ in REFUSED])
def test_what_cannot_be_read_or_disagrees_is_an_error_naming_the_field_and_what_it_takes(raw, field, words):
    with pytest.raises(DialectError) as caught:
        resolve(raw, NATIVE)
    assert caught.value.field == field and isinstance(caught.value, ValueError)
    for word in words:
        assert word in caught.value.message, (word, caught.value.message)
    assert str(caught.value) == f"{field}: {caught.value.message}"


@pytest.mark.parametrize("raw", [{}, {"text": "Hi"}, {"format": "mp3", "sample_rate": 44100, "bitrate_kbps": 320},
                                 {"format": "nonsense"}, {"response_format": None, "encoding": None}])
def test_a_request_in_the_workers_own_terms_is_left_to_the_schema(raw):
    assert resolve(raw, NATIVE) is None


def test_the_vendors_fields_are_the_ones_the_schema_drops():
    assert FIELDS == ("response_format", "output_format", "encoding", "container", "bit_rate")
    # and the worker's own fields beside them are read, not dropped
    assert resolve({"encoding": "mp3", "format": "mp3", "sample_rate": 32000, "bitrate_kbps": 40}, NATIVE) == \
        Choice("mp3", 32000, 40)


def test_a_bitrate_without_a_rate_is_checked_at_the_rate_the_request_will_get():
    # mp3 takes 40 kbit/s at 16 kHz but not at 24 kHz: the engine's native rate decides.
    assert resolve({"encoding": "mp3", "bit_rate": 40000}, 16000) == Choice("mp3", None, 40)
    with pytest.raises(DialectError, match="at 24000 Hz"):
        resolve({"encoding": "mp3", "bit_rate": 40000}, 24000)
    # G.711's default is 8 kHz whatever the engine's: a Deepgram mulaw request is 8 kHz as Deepgram's is.
    assert formats.get(resolve({"encoding": "mulaw", "container": "none"}, 24000).format).default_rate(24000) == 8000


def test_in_own_terms_drops_the_vendors_fields_and_fills_in_what_they_come_to():
    raw = {"text": "Hi", "output_format": "ulaw_8000", "voice": "heart", "encoding": None}
    assert in_own_terms(raw, NATIVE) == {"text": "Hi", "voice": "heart", "format": "mulaw", "sample_rate": 8000}
    assert in_own_terms({"text": "Hi", "response_format": "mp3"}, NATIVE) == {"text": "Hi", "format": "mp3"}
    # nothing to read: the input as it came, less vendors' fields sent as null
    assert in_own_terms({"text": "Hi", "format": "ogg", "bit_rate": None}, NATIVE) == {"text": "Hi", "format": "ogg"}
    with pytest.raises(DialectError, match="^encoding: "):
        in_own_terms({"text": "Hi", "encoding": "speex"}, NATIVE)
