"""AudioCache: one record file per entry (cache/record.py), verified on read, capped with LRU eviction.

An entry's header carries its own key and the result's metadata; a file copied or linked under another key's
name is not served. Several workers may share the directory (a network volume): writes are atomic, temp files
of writes in progress count against the cap, and those a killed writer left are removed.

Size: the cap holds for the directory, whatever the number of workers. A worker's view of the directory's size is
its last scan plus what every worker's ledger (cache/ledger.py) moved since; before a write it evicts the least
recently used entries (by the volume's own timestamps) until the entry fits, and a worker writes one entry at a
time, so the directory passes the cap by at most one entry per worker writing at that moment. It scans when
eviction is due and every 15 minutes (writers without a ledger: an older version, files removed by hand).

The volume (cache/volume.py): a write refused as full (ENOSPC, EDQUOT) evicts and is tried once more, so a full
volume recovers as soon as there is something to evict; the cache keeps a share of the volume free for the voice
library, evicting to keep it and refusing to write into it; and it gives the library room when it asks.

No method raises: a cache problem is logged and the request goes on without the cache."""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass

from cache import record, volume
from cache.ledger import Counts, Ledger, delta

log = logging.getLogger("tts.cache")

MAGIC = b"RPTTS2\n"             # 2: the header carries the entry's own key
SUFFIX = ".tts"
_EVICT_TO = 0.9              # evict down to this share of the cap, so eviction is not run on every put
_HEADER_ROOM = 1024          # a record's header beside its payload, counted before the write
_RESCAN_S = 900              # the longest a worker trusts its view without a scan
_FORGET_EVERY_S = 3600
AUTO_SHARE = 0.5             # no cap set: this share of the volume's free space at start (the cache's files included)
AUTO_MAX = 10 * 1024**3      # ... and at most this (a network volume may report its pool's space, not its quota)
RESERVE_SHARE = 0.05         # kept free on the volume for the voice library: this share of the volume,
RESERVE_MAX = 256 * 1024**2  # at most this


@dataclass(frozen=True)
class CacheEntry:
    data: bytes
    meta: dict


class AudioCache:
    def __init__(self, directory: str, max_bytes: int | None = None, sweep: bool = True):
        """max_bytes: the cap (0: none; None: AUTO_SHARE of the volume's free space at the first scan)."""
        self.directory = directory
        self.max_bytes = max_bytes
        self.reserve_bytes = _reserve(directory)
        self.volume = volume.Health(directory)
        self._ledger = Ledger(directory)
        self._lock = threading.Lock()        # one write, with its eviction, at a time in this worker
        self._base: int | None = None        # the directory's bytes as of the last scan ...
        self._base_counts: Counts = {}       # ... and every ledger's totals the scan includes
        self._scanned_at = self._forgot_at = 0.0
        self._ledger_errors: set[int | None] = set()
        self.hits = self.misses = self.writes = self.errors = self.evictions = 0
        self._counts_lock = threading.Lock()  # several jobs at once
        if sweep:
            # Temp files a killed writer left behind removed, the cap resolved and held, off the request path.
            threading.Thread(target=self._first_scan, name="cache-sweep", daemon=True).start()

    def _count(self, name: str, n: int = 1) -> None:
        with self._counts_lock:
            setattr(self, name, getattr(self, name) + n)

    def _path(self, key: str) -> str:
        return os.path.join(self.directory, key[:2], key + SUFFIX)

    def get(self, key: str) -> CacheEntry | None:
        """The verified entry, or None (missing, truncated, corrupt, unreadable, or not this key's)."""
        path = self._path(key)
        try:
            header, data = record.read(path, MAGIC)
            if header.get("key") != key or not isinstance(header.get("meta"), dict):
                raise record.Corrupt("the header belongs to another key or has no meta")
        except FileNotFoundError:
            self._count("misses")
            return None
        except record.Corrupt as e:
            self._count("errors")
            self._count("misses")
            log.warning("cache entry %s… is not a whole entry (%s); regenerating", key[:12], e)
            return None
        except OSError as e:
            self._failed("read", key, e)
            self._count("misses")
            return None
        try:
            os.utime(path, follow_symlinks=False)  # mtime = last use, for LRU eviction
        except OSError:
            pass  # a read-only volume still serves hits
        self._count("hits")
        return CacheEntry(data=data, meta=header["meta"])

    def put(self, key: str, data: bytes, meta: dict) -> bool:
        """Store atomically, evicting least-recently-used entries first to stay under the cap. False when it failed
        or the entry cannot be stored (larger than the cap, or the volume has no room beside the reserve)."""
        path = self._path(key)
        need = len(data) + _HEADER_ROOM
        with self._lock:
            if self._base is None and self.max_bytes != 0:
                self._shrink(0, 0)  # the first scan resolves the cap
            if self.max_bytes and len(data) > self.max_bytes:
                return False
            try:
                if self.max_bytes:
                    self._start_ledger()
                refused = self._make_room(need)
                if refused:
                    self._count("errors")
                    self.volume.failed("write", refused)
                    log.warning("cache write for %s… refused: %s; serving without the cache", key[:12], refused)
                    return False
                size, old = self._write(path, key, data, meta, need)
            except OSError as e:
                self._failed("write", key, e)
                return False
            self._moved(added=size, removed=old)
        self.volume.wrote()
        self._count("writes")
        return True

    def make_room(self, nbytes: int, near: str) -> bool:
        """Evict least-recently-used entries to free `nbytes` (and the reserve) for another store on this volume
        that was refused a write (the voice library: it must never be starved by the cache). False when the cache
        is on another filesystem than `near` or had nothing to free."""
        if not volume.same_filesystem(self.directory, near):
            return False
        with self._lock:
            return self._shrink(0, nbytes + self.reserve_bytes) > 0

    # -- size and room, with the lock held ------------------------------------------------------------------
    def _make_room(self, need: int) -> str | None:
        """Evict what the cap and the volume's reserve ask before writing `need` bytes; why the write must not
        happen, or None."""
        free = volume.free_bytes(self.directory)
        short = self.reserve_bytes + need - free if free is not None and free - need < self.reserve_bytes else 0
        over = bool(self.max_bytes) and self._usage() + need > self.max_bytes
        if short or over:
            freed = self._shrink(need, short)
            if short > freed:
                return (f"the volume has {free} bytes free and {self.reserve_bytes} are kept for the voice library; "
                        "nothing left to evict")
        return None

    def _write(self, path: str, key: str, data: bytes, meta: dict, need: int) -> tuple[int, int]:
        """(bytes written, bytes of the entry it replaced). A full volume evicts and is tried once more."""
        try:
            old = os.lstat(path).st_size
        except OSError:
            old = 0
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            return record.write(path, MAGIC, {"key": key, "meta": meta}, data), old
        except OSError as e:
            if e.errno not in volume.FULL:
                raise
            self.volume.failed("write", e)
            log.warning("cache write for %s…: the volume is full (%s); evicting and trying once more", key[:12],
                        volume.describe(e))
        self._shrink(need, need + self.reserve_bytes)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return record.write(path, MAGIC, {"key": key, "meta": meta}, data), old

    def _usage(self) -> int:
        """The directory's bytes now: the last scan plus what every worker's ledger moved since."""
        if self._base is None or time.monotonic() - self._scanned_at > _RESCAN_S:
            self._shrink(0, 0)
        now = self._ledger.read()
        return self._base + delta(self._base_counts, now, 0) - delta(self._base_counts, now, 1)

    def _shrink(self, need: int, short: int) -> int:
        """Scan; remove least recently used entries until `need` more bytes fit under the cap (down to 90 % of it,
        so this is not done at every write) and at least `short` bytes are freed; start this worker's view of the
        directory's size afresh. Returns the bytes freed."""
        capped = self.max_bytes != 0
        if capped:
            self._start_ledger()
        # Ledgers are read around the scan so that what moves meanwhile is counted twice rather than never: bytes
        # added since the reading before, bytes removed since the reading after.
        before = self._ledger.read() if capped else {}
        entries = sorted(self._entries())  # oldest use first
        total = sum(size for _, size, _ in entries)
        if self.max_bytes is None:
            self._resolve_cap(total)
        goal = short
        if self.max_bytes and total + need > self.max_bytes:
            goal = max(goal, total + need - int(self.max_bytes * _EVICT_TO))
        freed = evicted = 0
        for _, size, path in entries:
            if freed >= goal:
                break
            if not path.endswith(SUFFIX):
                continue  # a write in progress: counted, not evicted
            if record.unlink(path):  # else another worker evicted it first; its ledger says so
                freed += size
                evicted += 1
        if evicted:
            self._count("evictions", evicted)
            log.info("cache eviction: %d entries (%.1f MB) removed, %.1f MB kept (cap %.1f MB)", evicted,
                     freed / 1e6, (total - freed) / 1e6, (self.max_bytes or 0) / 1e6)
        if capped:
            self._moved(removed=freed)
            after = self._ledger.read()
            self._base = total - freed
            self._base_counts = {name: (before.get(name, (0, 0))[0], removed) for name, (_, removed) in after.items()}
            self._scanned_at = time.monotonic()
            if self._scanned_at - self._forgot_at > _FORGET_EVERY_S:
                self._forgot_at = self._scanned_at
                self._ledger.forget_stale()
        return freed

    def _resolve_cap(self, total: int) -> None:
        free = volume.free_bytes(self.directory)
        self.max_bytes = AUTO_MAX if free is None else max(1, min(AUTO_MAX, int((free + total) * AUTO_SHARE)))
        log.info("cache cap %.1f MB: %d %% of the volume's free space and the cache's %.1f MB, at most %.1f GB",
                 self.max_bytes / 1e6, AUTO_SHARE * 100, total / 1e6, AUTO_MAX / 1e9)

    def _start_ledger(self) -> None:
        try:
            self._ledger.start()  # before this worker moves a byte: a scan elsewhere reads it
        except OSError as e:
            self._ledger_failed(e)

    def _moved(self, added: int = 0, removed: int = 0) -> None:
        if not self.max_bytes or not (added or removed):
            return
        try:
            self._ledger.moved(added, removed)
        except OSError as e:
            self._ledger_failed(e)

    def _ledger_failed(self, e: OSError) -> None:
        """The other workers see this one's bytes at their next scan instead of their next write."""
        self.volume.failed("ledger", e)
        if e.errno not in self._ledger_errors:  # once per kind: it fails at every write, beside the write's own
            self._ledger_errors.add(e.errno)
            log.warning("cache size ledger not kept (%s): other workers see this one's writes at their next scan",
                        volume.describe(e))

    def _first_scan(self) -> None:
        with self._lock:
            self._shrink(0, 0)

    def _entries(self) -> list[tuple[float, int, str]]:
        """(mtime, size, path) of every entry and fresh temp file; removes stale temp files on the way."""
        out = []
        now = time.time()
        try:
            subdirs = list(os.scandir(self.directory))
        except OSError:
            return out
        for sub in subdirs:
            if not sub.is_dir(follow_symlinks=False):
                continue
            try:
                files = list(os.scandir(sub.path))
            except OSError:
                continue
            for f in files:
                try:
                    st = f.stat(follow_symlinks=False)
                except OSError:
                    continue  # removed by another worker meanwhile
                if f.name.endswith(SUFFIX):
                    out.append((st.st_mtime, st.st_size, f.path))
                elif f.name.startswith(record.TMP_PREFIX):
                    if record.stale(st.st_mtime, now):
                        record.unlink(f.path)
                    else:  # a write in progress (here or in another worker): it takes room too
                        out.append((st.st_mtime, st.st_size, f.path))
        return out

    def _scan(self) -> tuple[int, int]:
        entries = self._entries()
        return sum(size for _, size, _ in entries), len(entries)

    def _failed(self, op: str, key: str, e: OSError) -> None:
        self._count("errors")
        self.volume.failed(op, e, write=op == "write")
        log.warning("cache %s failed for %s…: %s; serving without the cache", op, key[:12], volume.describe(e))

    def stats(self) -> dict:
        """The health report's part: the directory's size and cap, and what its volume said at the last write."""
        total, count = self._scan()
        if self.max_bytes is None:
            with self._lock:
                if self.max_bytes is None:
                    self._resolve_cap(total)
        return {
            "dir": self.directory,
            **self.volume.report(),   # writable (the last write's outcome), free_bytes, last_error
            "entries": count,
            "bytes": total,
            "max_bytes": self.max_bytes,
            "reserve_bytes": self.reserve_bytes,
            "hits": self.hits,
            "misses": self.misses,
            "writes": self.writes,
            "errors": self.errors,
            "evictions": self.evictions,
        }


def _reserve(directory: str) -> int:
    size = volume.size_bytes(directory)
    return 0 if size is None else min(RESERVE_MAX, int(size * RESERVE_SHARE))
