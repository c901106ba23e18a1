"""AudioCache: one file per entry, written atomically, verified on read, capped with LRU eviction.

Entry layout: MAGIC, 4-byte big-endian header length, JSON header {"size", "sha256", "meta"}, payload.
Several workers may share the directory (a network volume), so writes go to a unique temp file in
the same directory and are renamed into place; readers see the old entry, the new one or none.
No method raises: a cache problem is logged and the request goes on without the cache."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
import tempfile
import threading
import time
from dataclasses import dataclass

log = logging.getLogger("tts.cache")

MAGIC = b"RPTTS1\n"
SUFFIX = ".tts"
_TMP_PREFIX = ".tmp-"
_STALE_TMP_S = 3600          # temp files older than this were left by a crashed writer
_EVICT_TO = 0.9              # evict down to this share of the cap, so eviction is not run on every put


@dataclass(frozen=True)
class CacheEntry:
    data: bytes
    meta: dict


class AudioCache:
    def __init__(self, directory: str, max_bytes: int):
        self.directory = directory
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._approx_bytes: int | None = None  # None until the first scan
        self.hits = self.misses = self.writes = self.errors = self.evictions = 0

    def _path(self, key: str) -> str:
        return os.path.join(self.directory, key[:2], key + SUFFIX)

    def get(self, key: str) -> CacheEntry | None:
        """The verified entry, or None (missing, truncated, corrupt or unreadable)."""
        path = self._path(key)
        try:
            with open(path, "rb") as f:
                blob = f.read()
        except FileNotFoundError:
            self.misses += 1
            return None
        except OSError as e:
            self._failed("read", key, e)
            self.misses += 1
            return None
        entry = _decode(blob)
        if entry is None:
            log.warning("cache entry %s… is truncated or corrupt (%d bytes); regenerating", key[:12], len(blob))
            self.misses += 1
            return None
        try:
            os.utime(path)  # mtime = last use, for LRU eviction
        except OSError:
            pass  # a read-only volume still serves hits
        self.hits += 1
        return entry

    def put(self, key: str, data: bytes, meta: dict) -> bool:
        """Store atomically; evict least-recently-used entries past the cap. False when it failed."""
        if self.max_bytes and len(data) > self.max_bytes:
            return False
        path = self._path(key)
        header = json.dumps({"size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "meta": meta},
                            separators=(",", ":")).encode()
        def write(f) -> None:
            f.write(MAGIC + struct.pack(">I", len(header)) + header)
            f.write(data)  # apart from the header: no copy of the payload

        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            atomic_write(path, write)
        except OSError as e:
            self._failed("write", key, e)
            return False
        self.writes += 1
        self._account(len(data) + len(header) + len(MAGIC) + 4)
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
        """(mtime, size, path) of every entry; removes stale temp files on the way."""
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
                elif f.name.startswith(_TMP_PREFIX) and now - st.st_mtime > _STALE_TMP_S:
                    _unlink(f.path)
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
            if _unlink(path):
                self.evictions += 1
            total -= size  # gone either way: another worker may have evicted it first
        self._approx_bytes = total
        log.info("cache eviction: %d entries removed so far, %.1f MB kept (cap %.1f MB)",
                 self.evictions, total / 1e6, self.max_bytes / 1e6)

    def _failed(self, op: str, key: str, e: OSError) -> None:
        self.errors += 1
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


def atomic_write(path: str, write) -> None:
    """Write a file so readers, in this process or another worker, see the old file, the new one or none:
    `write(f)` fills a temp file in the same directory, which is then renamed over `path`."""
    fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o644)  # mkstemp makes 0600; other workers may run as other users
            write(f)
        os.replace(tmp, path)
    except BaseException:
        _unlink(tmp)
        raise


def _decode(blob: bytes) -> CacheEntry | None:
    start = len(MAGIC) + 4
    if len(blob) < start or not blob.startswith(MAGIC):
        return None
    (hlen,) = struct.unpack(">I", blob[len(MAGIC):start])
    try:
        header = json.loads(blob[start:start + hlen])
        data = blob[start + hlen:]
        if len(data) != header["size"] or hashlib.sha256(data).hexdigest() != header["sha256"]:
            return None
        return CacheEntry(data=data, meta=header["meta"])
    except (ValueError, KeyError, TypeError):
        return None


def _unlink(path: str) -> bool:
    try:
        os.unlink(path)
        return True
    except OSError:
        return False
