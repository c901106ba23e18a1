import multiprocessing as mp
import os
import time

from cache import AudioCache, cache_key


def payload(i: int, size: int = 2000) -> bytes:
    return bytes([i % 256]) * size


def test_key_is_canonical_and_sensitive_to_every_field():
    a = cache_key({"text": "Hi", "speed": 1.0, "voice": "heart"})
    assert a == cache_key({"voice": "heart", "speed": 1.0, "text": "Hi"})  # order does not matter
    assert len(a) == 64
    assert a != cache_key({"text": "hi", "speed": 1.0, "voice": "heart"})  # case matters
    assert a != cache_key({"text": "Hi", "speed": 1.01, "voice": "heart"})


def test_put_get_roundtrip_with_meta(tmp_path):
    c = AudioCache(str(tmp_path), 0)
    assert c.get("ab" * 32) is None
    assert c.put("ab" * 32, b"audio bytes", {"duration_ms": 5})
    e = c.get("ab" * 32)
    assert (e.data, e.meta) == (b"audio bytes", {"duration_ms": 5})
    assert (c.hits, c.misses, c.writes) == (1, 1, 1)
    assert os.path.isfile(tmp_path / "ab" / ("ab" * 32 + ".tts"))


def test_truncated_or_corrupt_entries_are_misses_and_get_rewritten(tmp_path):
    c = AudioCache(str(tmp_path), 0)
    key = "cd" * 32
    c.put(key, payload(1), {"m": 1})
    path = tmp_path / "cd" / (key + ".tts")
    blob = path.read_bytes()
    path.write_bytes(blob[:-10])                      # truncated
    assert c.get(key) is None
    flipped = bytearray(blob)
    flipped[-1] ^= 0xFF                               # same length, one bit rotten
    path.write_bytes(bytes(flipped))
    assert c.get(key) is None
    path.write_bytes(b"garbage")
    assert c.get(key) is None
    assert c.put(key, payload(1), {"m": 1})
    assert c.get(key).data == payload(1)


def test_an_unusable_directory_never_raises(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    c = AudioCache(str(blocker / "cache"), 1000)      # mkdir under a file fails even for root
    assert c.put("ef" * 32, b"x", {}) is False
    assert c.get("ef" * 32) is None
    assert c.errors == 2                              # both logged, neither raised
    stats = c.stats()
    assert stats["writable"] is False and stats["entries"] == 0


def test_lru_eviction_keeps_recently_used_entries_under_the_cap(tmp_path):
    big = AudioCache(str(tmp_path), 10**9)
    keys = [f"{i:02x}" * 32 for i in range(5)]
    for i, k in enumerate(keys):
        big.put(k, payload(i), {})
    now = time.time()
    for i, k in enumerate(keys):                       # entry i last used (100 - i) seconds ago
        os.utime(tmp_path / k[:2] / (k + ".tts"), (now - 100 + i, now - 100 + i))
    assert big.get(keys[0]) is not None                # the oldest becomes the most recently used
    small = AudioCache(str(tmp_path), 7000)
    new = "ff" * 32
    small.put(new, payload(9), {})
    left = {k for k in keys + [new] if (tmp_path / k[:2] / (k + ".tts")).exists()}
    assert left == {keys[0], new}
    assert small.stats()["bytes"] <= 7000
    assert small.evictions == 4


def test_entries_larger_than_the_whole_cap_are_not_stored(tmp_path):
    c = AudioCache(str(tmp_path), 100)
    assert c.put("aa" * 32, payload(1, 500), {}) is False
    assert c.stats()["entries"] == 0


def _writer(directory: str, key: str, marker: int, rounds: int) -> None:
    c = AudioCache(directory, 0)
    for i in range(rounds):
        c.put(key, payload(marker, 50_000 + 7 * i), {"writer": marker})


def test_two_processes_writing_one_key_never_leave_a_corrupt_file(tmp_path):
    key = "12" * 32
    path = tmp_path / "12" / (key + ".tts")
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), key, m, 150)) for m in (1, 2)]
    for pr in procs:
        pr.start()
    reader = AudioCache(str(tmp_path), 0, sweep=False)
    seen = 0
    while any(pr.is_alive() for pr in procs):
        entry = reader.get(key)
        if entry is None:
            continue  # not written yet
        assert set(entry.data) == {entry.meta["writer"]}
        seen += 1
    for pr in procs:
        pr.join()
        assert pr.exitcode == 0
    assert seen > 0 and reader.errors == 0, "a reader saw a partial or mixed entry"
    assert reader.get(key) is not None
    assert [f for f in os.listdir(path.parent) if f.startswith(".tmp-")] == []


def test_settings_put_cache_and_voices_on_a_writable_runpod_volume(tmp_path, monkeypatch):
    from tts.config import Settings, on_volume

    volume = tmp_path / "runpod-volume"
    assert on_volume("tts-cache", "/local", str(volume)) == "/local"
    volume.mkdir()
    assert on_volume("tts-cache", "/local", str(volume)) == str(volume / "tts-cache")
    for var in ("CACHE_DIR", "VOICES_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    s = Settings.from_env()
    if not os.path.isdir("/runpod-volume"):
        assert s.cache_dir == str(tmp_path / "xdg-cache" / "runpod-tts-worker")
        assert s.voices_dir == str(tmp_path / "xdg-data" / "runpod-tts-worker" / "voices")
    monkeypatch.setenv("CACHE_DIR", "/explicit/cache")
    monkeypatch.setenv("VOICES_DIR", "/explicit/voices")
    s = Settings.from_env()
    assert (s.cache_dir, s.voices_dir) == ("/explicit/cache", "/explicit/voices")


def test_tampered_entries_are_never_served_and_get_rewritten(tmp_path):
    import json

    from cache import record
    from cache.store import MAGIC

    c = AudioCache(str(tmp_path), 0, sweep=False)
    a, b = "aa" * 32, "bb" * 32
    c.put(a, payload(1), {"m": "a"})
    c.put(b, payload(2), {"m": "b"})
    path_a = tmp_path / "aa" / (a + ".tts")
    # Another key's entry copied over, or linked in: not this key's audio.
    path_a.write_bytes((tmp_path / "bb" / (b + ".tts")).read_bytes())
    assert c.get(a) is None
    path_a.unlink()
    path_a.symlink_to(tmp_path / "bb" / (b + ".tts"))
    assert c.get(a) is None
    # A header whose meta is null: a whole, hash-correct file that is still not an entry.
    path_a.unlink()
    record.write(str(path_a), MAGIC, {"key": a, "meta": None}, payload(1))
    assert c.get(a) is None
    # A FIFO where the entry should be: a miss at once, not a job that hangs.
    path_a.unlink()
    os.mkfifo(path_a)
    t = time.monotonic()
    assert c.get(a) is None and time.monotonic() - t < 1
    assert c.errors == 4
    # The next put replaces whatever was there.
    assert c.put(a, payload(1), {"m": "a"}) and c.get(a).meta == {"m": "a"}
    assert json.loads(json.dumps(c.get(b).meta)) == {"m": "b"}


def test_temp_files_of_killed_writers_are_swept_and_live_ones_count_against_the_cap(tmp_path):
    sub = tmp_path / "ab"
    sub.mkdir()
    stale, live = sub / ".tmp-killed", sub / ".tmp-writing"
    stale.write_bytes(b"x" * 5000)
    live.write_bytes(b"y" * 6000)
    old = time.time() - 3600
    os.utime(stale, (old, old))
    c = AudioCache(str(tmp_path), 10_000)  # the start-up sweep runs on a thread
    deadline = time.monotonic() + 5
    while stale.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not stale.exists() and live.exists()
    c.put("ab" * 32, payload(3, 3000), {})
    c.put("ac" * 32, payload(4, 3000), {})  # 6000 live temp bytes + two entries: over the cap
    assert c.evictions >= 1 and live.exists()  # the write in progress is counted, not evicted


def _full_volume(monkeypatch, failures: int) -> list[str]:
    """The next `failures` record writes fail as on a full volume (ENOSPC, the path in the error as the kernel
    gives it); returns the paths tried."""
    import errno

    from cache import record

    real, tried = record.atomic_write, []

    def atomic_write(path, write):
        tried.append(path)
        if len([p for p in tried if p.endswith(".tts")]) <= failures and path.endswith(".tts"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        real(path, write)

    monkeypatch.setattr(record, "atomic_write", atomic_write)
    return tried


def test_a_full_volume_evicts_and_the_write_is_tried_once_more(tmp_path, monkeypatch):
    c = AudioCache(str(tmp_path), 10**9, sweep=False)
    old, new = "a1" * 32, "b2" * 32
    assert c.put(old, payload(1), {})
    tried = _full_volume(monkeypatch, failures=1)
    assert c.put(new, payload(2), {})                  # before: logged, not stored, nothing evicted, ever
    assert c.get(new).data == payload(2) and c.get(old) is None and c.evictions == 1
    assert c.stats()["writable"] is True and c.stats()["last_error"]["error"] == "No space left on device (ENOSPC)"
    tried = _full_volume(monkeypatch, failures=10)
    assert c.put("c3" * 32, payload(3), {}) is False   # still full: one retry, not a loop
    assert len([p for p in tried if p.endswith(".tts")]) == 2


def test_health_says_not_writable_after_a_failed_write_and_no_path_is_shown_or_logged(tmp_path, monkeypatch, caplog):
    c = AudioCache(str(tmp_path), 0, sweep=False)
    tried = _full_volume(monkeypatch, failures=10)
    assert c.put("d4" * 32, payload(4), {}) is False and len(tried) == 2   # the write and its one retry
    stats = c.stats()
    assert os.access(tmp_path, os.W_OK) and stats["writable"] is False  # before: os.access's "writable"
    assert stats["last_error"]["op"] == "write" and stats["last_error"]["error"] == "No space left on device (ENOSPC)"
    assert isinstance(stats["free_bytes"], int) and stats["free_bytes"] > 0
    assert str(tmp_path) not in caplog.text and "ENOSPC" in caplog.text
    monkeypatch.undo()
    assert c.put("d4" * 32, payload(4), {}) and c.stats()["writable"] is True


def test_a_torn_or_foreign_ledger_line_is_not_trusted(tmp_path):
    from cache.ledger import Ledger, _line

    mine = Ledger(str(tmp_path))
    mine.start()
    mine.moved(added=5000)
    usage = tmp_path / ".usage"
    (usage / "torn").write_bytes(_line(123, 4)[:30] + _line(999, 4)[30:])   # half old, half new
    (usage / "junk").write_bytes(b"not a ledger")
    assert mine.read() == {os.path.basename(mine._path): (5000, 0)}
