"""The voice library on its own: one record per voice, replaced whole, verified on read."""
import hashlib
import json
import multiprocessing as mp
import os
import signal
import time

import numpy as np
import pytest
import soundfile as sf

from cache import record
from tts.audio_input import AudioClip
from tts.errors import StorageError
from tts.voices import VoiceLibrary

RATE = 24000


def clip(marker: int, seconds: float = 0.5) -> AudioClip:
    samples = np.full(int(RATE * seconds), marker / 100, np.float32)
    return AudioClip(samples, RATE, hashlib.sha256(samples.tobytes()).hexdigest())


def _uploader(directory: str, marker: int, rounds: int) -> None:
    library = VoiceLibrary(directory, RATE)
    for _ in range(rounds):
        library.save("shared", clip(marker), f"transcript {marker}")


def test_two_workers_uploading_one_name_never_mix_one_clip_with_the_other_transcript(tmp_path):
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_uploader, args=(str(tmp_path), m, 60)) for m in (10, 20)]
    for p in procs:
        p.start()
    reader = VoiceLibrary(str(tmp_path), RATE)
    seen = 0
    while any(p.is_alive() for p in procs):
        stored = reader.get("shared")
        if stored is None:
            continue
        samples, transcript = stored[0].samples, stored[1]
        marker = int(transcript.split()[1])
        assert np.allclose(samples, marker / 100, atol=1e-4), "audio of one upload, transcript of the other"
        seen += 1
    for p in procs:
        p.join()
        assert p.exitcode == 0
    assert seen > 0 and [f for f in os.listdir(tmp_path) if f.startswith(".tmp-")] == []


def test_the_key_of_a_stored_voice_is_the_hash_of_what_is_stored(tmp_path):
    library = VoiceLibrary(str(tmp_path), RATE)
    saved = library.save("v", clip(30), "hello")
    got, text = library.get("v")
    assert got.sha256 == saved["sha256"] and text == "hello"
    library.save("v", clip(40), "hello")  # same transcript, other audio: another key
    assert library.get("v")[0].sha256 != saved["sha256"]


def test_unusable_voice_files_are_skipped_not_fatal(tmp_path):
    library = VoiceLibrary(str(tmp_path), RATE)
    library.save("good", clip(30), "fine")
    library.save("rotten", clip(30), "fine")
    path = tmp_path / "rotten.voice"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    (tmp_path / "empty.json").write_text("{}")          # an earlier version's file, emptied
    (tmp_path / "fifo.voice").unlink(missing_ok=True)
    os.mkfifo(tmp_path / "fifo.voice")
    assert [v["name"] for v in library.describe()] == ["good", "rotten"]  # listings read headers only
    assert library.get("rotten") is None and library.get("empty") is None and library.get("fifo") is None
    assert library.get("good")[1] == "fine"


def test_voices_stored_by_the_previous_version_are_read_and_replaced_on_save(tmp_path):
    pcm = (np.sin(np.arange(RATE) / 10) * 8000).astype("<i2")
    sf.write(tmp_path / "old.wav", pcm, RATE, subtype="PCM_16")
    (tmp_path / "old.json").write_text(json.dumps({"text": "legacy", "seconds": 1.0, "sha256": "x" * 64,
                                                   "created": 1}))
    library = VoiceLibrary(str(tmp_path), RATE)
    got, text = library.get("old")
    assert text == "legacy" and got.sha256 == hashlib.sha256(pcm.tobytes()).hexdigest()  # not the JSON's claim
    assert [v["name"] for v in library.describe()] == ["old"]
    library.save("old", clip(50), "new")
    assert sorted(os.listdir(tmp_path)) == ["old.voice"] and library.get("old")[1] == "new"
    assert library.delete("old") and library.get("old") is None and not library.delete("old")


def _upload_killed_mid_write(directory: str) -> None:
    """An upload whose process is killed while writing: the header goes out, then it hangs until killed."""
    real = record.atomic_write

    def stalled(path, write):
        class Stall:
            def __init__(self, f):
                self.f = f

            def write(self, data):
                self.f.write(data)
                self.f.flush()
                time.sleep(600)

        real(path, lambda f: write(Stall(f)))

    record.atomic_write = stalled
    VoiceLibrary(directory, RATE).save("v", clip(30), "never finished")


def test_temp_files_of_an_upload_killed_mid_write_are_swept_at_start(tmp_path):
    p = mp.get_context("fork").Process(target=_upload_killed_mid_write, args=(str(tmp_path),))
    p.start()
    deadline = time.monotonic() + 10
    while not [f for f in os.listdir(tmp_path) if f.startswith(".tmp-")]:
        assert time.monotonic() < deadline and p.is_alive()
        time.sleep(0.01)
    os.kill(p.pid, signal.SIGKILL)
    p.join()
    (temp,) = [tmp_path / f for f in os.listdir(tmp_path) if f.startswith(".tmp-")]
    library = VoiceLibrary(str(tmp_path), RATE)          # an upload may still be running elsewhere: kept
    assert temp.exists() and library.get("v") is None and library.names() == []
    old = time.time() - 3600
    os.utime(temp, (old, old))
    VoiceLibrary(str(tmp_path), RATE)                    # the next worker's start: stale, swept
    assert os.listdir(tmp_path) == []


def test_a_voice_the_volume_refuses_is_a_storage_error_that_names_no_path(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    library = VoiceLibrary(str(blocker / "voices"), RATE)   # mkdir under a file fails even for root
    with pytest.raises(StorageError) as raised:             # before: InputError("name", "... in <path>: ...")
        library.save("v2", clip(30), "t")
    assert str(raised.value) == "could not store voice 'v2': Not a directory (ENOTDIR); retry later"
    assert raised.value.full is False
    health = library.stats()
    assert health["writable"] is False and health["last_error"]["error"] == "Not a directory (ENOTDIR)"
    assert str(tmp_path) not in json.dumps(health)


def test_a_voice_the_volume_will_not_remove_is_a_storage_error_not_not_found(tmp_path):
    library = VoiceLibrary(str(tmp_path), RATE)
    (tmp_path / "stuck.voice").mkdir()                      # unlink() refuses it, as a read-only volume would
    with pytest.raises(StorageError, match=r"^could not delete voice 'stuck': .*\(EISDIR\); retry later$"):
        library.delete("stuck")                             # before: False, answered "no stored voice 'stuck'"
    assert library.delete("missing") is False
