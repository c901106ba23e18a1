"""MP3 (MPEG audio layer III: LAME through libsndfile), at a constant bitrate: the rate's default (KBPS) or one a
request picks from the MPEG bitrates that still hold the info frame (bitrates()).

LAME starts a file with an info frame (Xing/LAME tag) that it rewrites at close with what only the end knows: the
frame count, from which decoders tell the length, and the encoder delay and padding, which they trim. A stream
cannot wait for it, so it sends the frames after it: plain MPEG frames, as live MP3 streams are. A decoder then
knows a stream's length only from its size and its first frame's bitrate, hence the constant bitrate (LAME's
variable bitrate began silence with 8 kbit/s frames, and a 6 s stream read as 33 s), and cannot trim the delay and
padding: a stream decodes UNTRIMMED samples and less than a frame of padding longer than its closed file."""
from __future__ import annotations

from dataclasses import dataclass

from tts.formats.codec import Bitrates, SoundfileCodec

# The default kbit/s per rate: what LAME's variable bitrate (libsndfile's compression level 0.5) averaged for speech
# at that rate, rounded up to a bitrate whose frame holds LAME's 169-177-byte info frame (in a smaller frame LAME
# leaves the tag out, and decoders could not trim even the closed file's delay and padding).
KBPS = {8000: 24, 11025: 32, 12000: 32, 16000: 40, 22050: 56, 24000: 64, 32000: 56, 44100: 64, 48000: 64}

# The bitrates a request may ask for at each rate: from the smallest whose frame holds the info frame (measured:
# one bitrate step lower and LAME leaves it out) up to the top of libsndfile's range for the MPEG version (LAME
# encodes MPEG-2.5, the rates under 16 kHz, at 64 kbit/s at most).
_LOWEST = {8000: 24, 11025: 32, 12000: 32, 16000: 40, 22050: 56, 24000: 64, 32000: 40, 44100: 56, 48000: 64}

# Samples a decoder puts before a stream's audio when no info frame tells it to trim them: LAME's encoder delay
# (576) and the decoder's own (529). Its padding, less than a frame more, ends the stream.
UNTRIMMED = 576 + 529

# Bitrates (kbit/s) by header index and rates by index, for MPEG-1 and for MPEG-2/2.5 (version bits 3; 2, 0).
_KBPS_INDEX = {3: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
               2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)}
_RATE_INDEX = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


@dataclass(frozen=True)
class FrameHeader:
    version: int        # header bits: 3 MPEG-1, 2 MPEG-2, 0 MPEG-2.5
    kbps: int
    rate: int
    length: int         # bytes, header included

    @property
    def samples(self) -> int:
        return 1152 if self.version == 3 else 576


def frame_header(header: bytes | bytearray) -> FrameHeader:
    """The MPEG layer III frame whose 4-byte header this is."""
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0 or (header[1] >> 3) & 3 == 1 \
            or (header[1] >> 1) & 3 != 1 or header[2] >> 4 in (0, 15) or (header[2] >> 2) & 3 == 3:
        raise ValueError("not an MPEG layer III frame header")
    version = (header[1] >> 3) & 3
    kbps = _KBPS_INDEX[3 if version == 3 else 2][header[2] >> 4]
    rate = _RATE_INDEX[version][(header[2] >> 2) & 3]
    padding = (header[2] >> 1) & 1
    return FrameHeader(version, kbps, rate, (144 if version == 3 else 72) * kbps * 1000 // rate + padding)


def frame_length(header: bytes | bytearray) -> int:
    """The length in bytes of the MPEG layer III frame whose 4-byte header this is."""
    return frame_header(header).length


def _range(rate: int) -> tuple[int, int]:
    """libsndfile's bitrate range (kbit/s, top and bottom) for the MPEG version of `rate`."""
    return (320, 32) if rate >= 32000 else (160, 8) if rate >= 16000 else (64, 8)


def compression_level(rate: int, kbps: int | None = None) -> float:
    """libsndfile's compression level (0..1) that makes LAME encode at `kbps` (default KBPS[rate]): libsndfile maps
    it linearly onto the MPEG version's bitrate range, from the highest down."""
    top, bottom = _range(rate)
    # Aim half a kbit/s high: libsndfile truncates the product to whole kbit/s, and LAME takes the nearest bitrate
    # (at the top: level 0).
    return max(0.0, (top - (KBPS[rate] if kbps is None else kbps) - 0.5) / (top - bottom))


def bitrates(rate: int) -> Bitrates:
    """The MPEG bitrates (a frame's size is set by its header's bitrate index) LAME can encode at `rate` with an info
    frame."""
    top = _range(rate)[0]
    steps = tuple(k for k in _KBPS_INDEX[3 if rate >= 32000 else 2] if _LOWEST[rate] <= k <= top)
    return Bitrates(steps[0], steps[-1], KBPS[rate], steps)


@dataclass(frozen=True)
class Mp3(SoundfileCodec):
    def sf_options(self, rate: int, kbps: int | None) -> dict:
        return {"bitrate_mode": "CONSTANT", "compression_level": compression_level(rate, kbps)}

    def stream_start(self, data, closed):
        return None if len(data) < 4 else (frame_length(data[:4]), b"")


MP3 = Mp3("mp3", "audio/mpeg", tuple(KBPS), aliases=("mpeg",), lossy=True, int16_input=False,
          kbps={rate: bitrates(rate) for rate in KBPS}, sf_format="MP3", sf_subtype="MPEG_LAYER_III")
