"""AudioCache: one record file per entry (cache/record.py), verified on read, capped with LRU eviction.

An entry's header carries its own key and the result's metadata; a file copied or linked under another key's
name is not served. Several workers may share the directory (a network volume): writes are atomic, temp files
of writes in progress count against the cap, and those a killed writer left are removed.
No method raises: a cache problem is logged and the request goes on without the cache."""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass

from cache import record

log = logging.getLogger("tts.cache")

MAGIC = b"RPTTS2\n"             # 2: the header carries the entry's own key
SUFFIX = ".tts"
_STALE_TMP_S = 600           # no write takes this long: an older temp file was left by a killed writer
_EVICT_TO = 0.9              # evict down to this share of the cap, so eviction is not run on every put


@dataclass(frozen=True)
class CacheEntry:
    data: bytes
    meta: dict


class AudioCache:
    def __init__(self, directory: str, max_bytes: int, sweep: bool = True):
        self.directory = directory
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._approx_bytes: int | None = None  # None until the first scan
        self.hits = self.misses = self.writes = self.errors = self.evictions = 0
        self._counts_lock = threading.Lock()  # several jobs at once
        if sweep:
            # Temp files a killed writer left behind, removed off the request path.
            threading.Thread(target=self._entries, name="cache-sweep", daemon=True).start()

    def _count(self, name: str) -> None:
        with self._counts_lock:
            setattr(self, name, getattr(self, name) + 1)

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
        """Store atomically; evict least-recently-used entries past the cap. False when it failed."""
        if self.max_bytes and len(data) > self.max_bytes:
            return False
        path = self._path(key)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            size = record.write(path, MAGIC, {"key": key, "meta": meta}, data)
        except OSError as e:
            self._failed("write", key, e)
            return False
        self._count("writes")
        self._account(size)
        return True

    def _account(self, added: int) -> None:
        if not self.max_bytes:
            return
        with self._lock:
            if self._approx_bytes is None:
                self._approx_bytes = self._scan()[0]
            else:
                self._approx_bytes += added
            if self._approx_bytes > self.max_bytes:
                self._evict()

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
                    if now - st.st_mtime > _STALE_TMP_S:
                        record.unlink(f.path)
                    else:  # a write in progress (here or in another worker): it takes room too
                        out.append((st.st_mtime, st.st_size, f.path))
        return out

    def _scan(self) -> tuple[int, int]:
        entries = self._entries()
        return sum(size for _, size, _ in entries), len(entries)

    def _evict(self) -> None:
        entries = sorted(self._entries())  # oldest use first
        total = sum(size for _, size, _ in entries)
        target = int(self.max_bytes * _EVICT_TO)
        for _, size, path in entries:
            if total <= target:
                break
            if not path.endswith(SUFFIX):
                continue  # a write in progress: counted, not evicted
            if record.unlink(path):
                self._count("evictions")
            total -= size  # gone either way: another worker may have evicted it first
        self._approx_bytes = total
        log.info("cache eviction: %d entries removed so far, %.1f MB kept (cap %.1f MB)",
                 self.evictions, total / 1e6, self.max_bytes / 1e6)

    def _failed(self, op: str, key: str, e: OSError) -> None:
        self._count("errors")
        log.warning("cache %s failed for %s… in %s: %s; serving without the cache", op, key[:12], self.directory, e)

    def stats(self) -> dict:
        total, count = self._scan()
        return {
            "dir": self.directory,
            "writable": os.path.isdir(self.directory) and os.access(self.directory, os.W_OK),
            "entries": count,
            "bytes": total,
            "max_bytes": self.max_bytes,
            "hits": self.hits,
            "misses": self.misses,
            "writes": self.writes,
            "errors": self.errors,
            "evictions": self.evictions,
        }
