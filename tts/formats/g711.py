"""G.711 (ITU-T): μ-law (PCMU) and A-law (PCMA), one byte a sample, as telephone networks carry speech. libsndfile
compands (its ULAW/ALAW subtypes), raw or in a WAV container.

Four formats rather than two and a container option: raw and WAV differ in their bytes, their mimetype and how they
stream, which is what a format is here (one Codec each, one name in the cache key and in health); a container
field would apply to two formats only. Raw is the default (`mulaw`, `alaw`: what Twilio's and other media streams
carry, every byte final as it is written); `wav_mulaw` and `wav_alaw` put the same bytes in a WAV file (format tags
7 and 6), which players open without being told the rate.

Rates: 8000, G.711's own and the default whatever the engine's native rate, and 16000, which Deepgram offers and
WAV, libsndfile and FFmpeg carry: companding works at any rate, but nothing sends G.711 at other rates, and for
wideband audio 16-bit PCM is the better format."""
from __future__ import annotations

from dataclasses import dataclass

from tts.formats.codec import SoundfileCodec
from tts.formats.wav import Wav

RATES = (8000, 16000)


@dataclass(frozen=True)
class RawG711(SoundfileCodec):
    pass


MULAW = RawG711("mulaw", "audio/PCMU", RATES, aliases=("ulaw", "pcmu", "g711_ulaw"), sample_bytes=1,
                preferred_rate=8000, sf_format="RAW", sf_subtype="ULAW")
ALAW = RawG711("alaw", "audio/PCMA", RATES, aliases=("pcma", "g711_alaw"), sample_bytes=1, preferred_rate=8000,
               sf_format="RAW", sf_subtype="ALAW")
WAV_MULAW = Wav("wav_mulaw", "audio/wav", RATES, aliases=("wav_ulaw",), sample_bytes=1, preferred_rate=8000,
                extension="wav", sf_format="WAV", sf_subtype="ULAW")
WAV_ALAW = Wav("wav_alaw", "audio/wav", RATES, sample_bytes=1, preferred_rate=8000, extension="wav",
               sf_format="WAV", sf_subtype="ALAW")
