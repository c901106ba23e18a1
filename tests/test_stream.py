"""Jobs as streams (TTSService.run with stream=True): the bytes joined are one valid file of the format, sent while
the rest is made; a hit streams what its miss streamed; an abandoned stream stores nothing; RunPod stream items."""
import base64
import io
import json
import threading

import numpy as np
import pytest
import soundfile as sf

from cache import AudioCache
from tests.helpers import make_settings
from tts import formats
from tts.doors.queue import queue_job
from tts.doors.queue_stream import MAX_ITEM_AUDIO, stream_items
from tts.events import Audio, Done, Failed, Started
from tts.formats import mp3, wav
from tts.service import TTSService

FIVE = ("The first sentence is short. Here comes the second one. A third sentence follows it. "
        "The fourth is nearly the last. And this fifth sentence ends the text.")


def events(service, raw, **run):
    return list(service.run(raw, "t", stream=True, deliver=False, **run))


def joined(evts) -> bytes:
    return b"".join(e.data for e in evts if isinstance(e, Audio))


def decode(data: bytes, fmt: str) -> tuple[np.ndarray, int]:
    if fmt == "pcm":
        return np.frombuffer(data, "<i2").astype(np.float32) / 32768, 24000
    return sf.read(io.BytesIO(data), dtype="float32")


@pytest.mark.parametrize("fmt", ["wav", "mp3", "ogg", "pcm", "flac"])
def test_a_stream_joined_is_one_valid_file_and_the_cache_gets_the_whole_file(service, fmt):
    evts = events(service, {"text": FIVE, "format": fmt})
    assert isinstance(evts[0], Started) and (evts[0].format, evts[0].sample_rate) == (fmt, 24000)
    done = evts[-1]
    assert isinstance(done, Done) and not done.result.cache_hit
    audio_events = [e for e in evts if isinstance(e, Audio)]
    if fmt == "flac":  # its header gets the length only at close: the file leaves whole, at the end
        assert len(audio_events) == 1
    else:
        assert len(audio_events) >= 5  # five sentences: audio leaves as each is made
    streamed = joined(evts)
    assert done.data == b""  # a stream's Done does not carry the file again: it went out as Audio
    stored = service.cache.get(done.result.cache_key).data
    samples, rate = decode(streamed, fmt)
    whole, _ = decode(stored, fmt)
    assert rate == 24000 and abs(len(samples) - len(whole)) <= 2 * 1152
    assert abs(len(whole) / rate * 1000 - done.result.duration_ms) < 60
    # What differs between the stream and the stored file is only what the encoder fixes up at close.
    if fmt == "wav":
        assert streamed[:44] == wav.streaming_header(stored[:44]) and streamed[44:] == stored[44:]
    elif fmt == "mp3":
        assert streamed == stored[mp3.frame_length(stored[:4]):]
    else:
        assert streamed == stored
    assert done.result.first_audio_ms <= done.result.generation_time_ms


@pytest.mark.parametrize("fmt", ["wav", "mp3", "ogg", "pcm", "flac"])
def test_a_cache_hit_streams_the_bytes_its_miss_streamed_and_both_report_what_they_sent(service, fmt):
    """The cache stores the closed file; a WAV miss streamed a header of unknown length and an MP3 miss no info
    frame. Clients get the same bytes for the same request, hit or miss, and size_bytes counts them."""
    miss = events(service, {"text": FIVE, "format": fmt})
    hit = events(service, {"text": FIVE, "format": fmt})
    assert not miss[-1].result.cache_hit and hit[-1].result.cache_hit
    stored = service.cache.get(miss[-1].result.cache_key).data
    assert joined(hit) == joined(miss) == formats.get(fmt).stream_of(stored)
    assert miss[-1].result.size_bytes == hit[-1].result.size_bytes == len(joined(miss))


def test_the_first_audio_leaves_before_the_last_sentence_is_made(service):
    made = []
    real = service.engine.synthesize

    def recording(*args, **kwargs):
        for piece in real(*args, **kwargs):
            made.append(len(piece.samples))
            yield piece

    service.engine = type("Recording", (), {"__getattr__": lambda _, name: getattr(real.__self__, name),
                                            "synthesize": staticmethod(recording)})()
    for event in service.run({"text": FIVE, "format": "mp3", "cache": False}, "t", stream=True, deliver=False):
        if isinstance(event, Audio):
            assert len(made) < 5  # the first bytes came out while sentences were still to be made
            break


def test_an_abandoned_stream_stores_nothing(service, tmp_path):
    run = service.run({"text": FIVE, "format": "ogg"}, "t", stream=True, deliver=False)
    first = next(e for e in run if isinstance(e, Audio))
    assert first.data.startswith(b"OggS")
    run.close()  # the client went away
    assert service.cache.stats()["entries"] == 0
    assert events(service, {"text": FIVE, "format": "ogg"})[-1].result.cache_hit is False


def test_stream_items_carry_the_file_and_end_with_the_metadata(service):
    items = list(stream_items(service.run({"text": FIVE, "format": "mp3"}, "t", stream=True, deliver=False)))
    assert [i["seq"] for i in items] == list(range(len(items)))
    assert all(i["format"] == "mp3" and i["sample_rate"] == 24000 for i in items)
    assert [i["done"] for i in items] == [False] * (len(items) - 1) + [True]
    last = items[-1]
    for key in ("cache_hit", "cache_key", "duration_ms", "size_bytes", "generation_time_ms", "first_audio_ms",
                "chunks_processed", "warnings"):
        assert key in last, key
    data = b"".join(base64.b64decode(i["audio_base64"]) for i in items)
    samples, rate = sf.read(io.BytesIO(data))
    assert rate == 24000 and abs(len(samples) / rate * 1000 - last["duration_ms"]) < 100
    assert max(len(json.dumps(i)) for i in items) < 1_000_000


def test_large_audio_is_split_into_items_under_one_megabyte(engine, tmp_path):
    svc = TTSService(engine, AudioCache(str(tmp_path / "c"), 0), make_settings())
    text = " ".join([FIVE] * 6)  # ~50 s: one cached file of 2.4 MB, streamed back from the cache
    queue_job(svc, {"text": text, "format": "pcm"})
    items = list(stream_items(svc.run({"text": text, "format": "pcm"}, "t", stream=True, deliver=False)))
    assert items[-1]["cache_hit"] and len(items) > 4
    assert all(len(base64.b64decode(i["audio_base64"])) <= MAX_ITEM_AUDIO for i in items)
    assert max(len(json.dumps(i)) for i in items) < 1_000_000


def test_a_bad_request_is_one_error_item_and_actions_one_done_item(service):
    assert list(stream_items(service.run({"text": "Hi", "speed": 9}, "t", stream=True, deliver=False))) == [
        {"error": "speed: must be a number from 0.5 to 2.0; got 9"}]
    [item] = list(stream_items(service.run({"action": "list_voices"}, "t", stream=True, deliver=False)))
    assert item["done"] is True and item["engine"] == "hibari" and "audio_base64" not in item
    refresh = threading.Event()
    poisoned = iter([Started("wav", 24000, "audio/wav"), Failed("engine: CUDA out of memory", "engine")])
    assert list(stream_items(poisoned, on_engine_failure=refresh.set)) == [{"error": "engine: CUDA out of memory"}]
    assert refresh.is_set()


def test_streams_carry_the_audio_themselves_not_a_bucket_url(service):
    [*_, last] = events(service, {"text": "Hi there.", "output_mode": "url"})
    assert isinstance(last, Failed) and last.error.startswith('output_mode: "url" is for whole results')
