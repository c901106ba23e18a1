"""How many bytes each worker sharing a cache directory has written into it and evicted from it.

One small file per worker under <cache>/.usage, written only by that worker: there is no lock to wait for, and
none a killed worker could leave held. A worker's view of the directory's size is its last full scan plus what
every ledger moved since that scan (cache/store.py keeps that view), so it sees the other workers' writes at its
next write instead of at its next scan: the cap holds for the directory, not for each worker.

A ledger is a fixed-width line rewritten in place (a full volume has no room for a new file, and a rename would
need one) with a checksum, so a reader never trusts a line caught half-written. A worker starts a new ledger
file (a new name, counting from zero) when it starts, after a fork, and after an idle hour, since scans remove
ledgers untouched for a day; a file's name is its identity, so a reader never mistakes a new count for an old
one."""
from __future__ import annotations

import os
import secrets
import socket
import time
import zlib

from cache import record

DIRNAME = ".usage"
_IDLE_S = 3600          # a ledger untouched this long: its worker starts a new one before moving bytes
_FORGET_S = 24 * 3600   # scans remove ledgers untouched this long (their workers are gone or started new ones)


def _line(added: int, removed: int) -> bytes:
    body = f"{added:020d} {removed:020d}"
    return f"{body} {zlib.crc32(body.encode()):08x}\n".encode()


def _parse(blob: bytes) -> tuple[int, int] | None:
    try:
        body, crc = blob.decode("ascii").rstrip("\n").rsplit(" ", 1)
        if int(crc, 16) != zlib.crc32(body.encode()):
            return None
        added, removed = body.split(" ")
        return int(added), int(removed)
    except ValueError:
        return None


Counts = dict[str, tuple[int, int]]   # ledger name -> (bytes added, bytes removed)


class Ledger:
    def __init__(self, cache_dir: str):
        self.directory = os.path.join(cache_dir, DIRNAME)
        self.added = self.removed = 0
        self._path: str | None = None
        self._pid = 0
        self._touched = 0.0

    def start(self) -> None:
        """Make sure this worker has a ledger on the volume before it moves any byte, so a scan running meanwhile
        reads it. OSError when it cannot be made (the caller goes on: its scans still measure the truth)."""
        if self._path is not None and self._pid == os.getpid() and time.monotonic() - self._touched < _IDLE_S:
            return
        self._path = None
        name = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
        path = os.path.join(self.directory, name)
        os.makedirs(self.directory, exist_ok=True)
        record.atomic_write(path, lambda f: f.write(_line(0, 0)))
        self._path, self._pid, self._touched = path, os.getpid(), time.monotonic()
        self.added = self.removed = 0

    def moved(self, added: int = 0, removed: int = 0) -> None:
        """Count bytes this worker wrote or removed, and publish the new totals."""
        self.added += added
        self.removed += removed
        if self._path is None:
            return
        fd = os.open(self._path, os.O_WRONLY)
        try:
            os.pwrite(fd, _line(self.added, self.removed), 0)
        finally:
            os.close(fd)
        self._touched = time.monotonic()

    def read(self) -> Counts:
        """Every worker's totals (this one's included); unreadable or half-written ledgers are left out."""
        out: Counts = {}
        try:
            names = os.listdir(self.directory)
        except OSError:
            return out
        for name in names:
            if name.startswith(record.TMP_PREFIX):
                continue
            counts = self._read_one(os.path.join(self.directory, name))
            if counts is not None:
                out[name] = counts
        return out

    @staticmethod
    def _read_one(path: str) -> tuple[int, int] | None:
        for _ in range(3):  # a line read while its worker rewrites it fails its checksum: read it again
            try:
                with open(path, "rb") as f:
                    counts = _parse(f.read(128))
            except OSError:
                return None
            if counts is not None:
                return counts
        return None

    def forget_stale(self) -> None:
        """Remove ledgers untouched for a day: the directory would otherwise keep one per worker ever started."""
        now = time.time()
        try:
            entries = list(os.scandir(self.directory))
        except OSError:
            return
        for e in entries:
            try:
                if now - e.stat(follow_symlinks=False).st_mtime > _FORGET_S and e.path != self._path:
                    record.unlink(e.path)
            except OSError:
                continue


def delta(before: Counts, after: Counts, field: int) -> int:
    """Bytes moved (field 0: added, 1: removed) between two readings; a ledger absent from `after` moved nothing
    (it was forgotten), one absent from `before` counts from zero (it is new)."""
    return sum(counts[field] - before.get(name, (0, 0))[field] for name, counts in after.items())
