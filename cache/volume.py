"""The volume a store lives on: its free space, what a failed write means, and what health says about it.

Every worker of an endpoint shares one network volume, so a store learns that it is full or read-only from its
own writes (os.access says "writable" on a full volume). Errors are described without file names: those hold
the volume's path, and health reports and job errors reach clients."""
from __future__ import annotations

import errno
import os
import threading
import time

FULL = frozenset({errno.ENOSPC, errno.EDQUOT})   # freeing space helps: evict, then try once more


def describe(e: OSError) -> str:
    """`No space left on device (ENOSPC)`: an OSError's kind without the path str(e) would show."""
    if e.errno is None:
        return type(e).__name__
    return f"{os.strerror(e.errno)} ({errno.errorcode.get(e.errno, e.errno)})"


def _statvfs(path: str) -> os.statvfs_result | None:
    """statvfs of `path`, or of its nearest existing parent (a store's directory is made at its first write)."""
    while True:
        try:
            return os.statvfs(path)
        except (FileNotFoundError, NotADirectoryError):
            parent = os.path.dirname(path)
            if not parent or parent == path:
                return None
            path = parent
        except OSError:
            return None


def free_bytes(path: str) -> int | None:
    """Bytes an unprivileged writer may still use on the filesystem holding `path`; None when it cannot be told."""
    st = _statvfs(path)
    return None if st is None else st.f_bavail * st.f_frsize


def size_bytes(path: str) -> int | None:
    """The size of the filesystem holding `path`. A network volume may report its pool's size, not its quota."""
    st = _statvfs(path)
    return None if st is None else st.f_blocks * st.f_frsize


def same_filesystem(a: str, b: str) -> bool:
    try:
        return os.stat(a).st_dev == os.stat(b).st_dev
    except OSError:
        return False


class Health:
    """What a store's writes said about its volume, for the health report: whether the last write succeeded, and the
    last storage error (what was done, the error's kind, when)."""

    def __init__(self, directory: str):
        self.directory = directory
        self._lock = threading.Lock()
        self._last_write_ok: bool | None = None   # None until the first write
        self._last_error: dict | None = None

    def wrote(self) -> None:
        with self._lock:
            self._last_write_ok = True

    def failed(self, op: str, error: OSError | str, write: bool = True) -> None:
        """`op` failed with `error` (an OSError, or why the store refused); `write`: it was a write."""
        text = describe(error) if isinstance(error, OSError) else error
        with self._lock:
            if write:
                self._last_write_ok = False
            self._last_error = {"op": op, "error": text, "at": int(time.time())}

    def report(self) -> dict:
        with self._lock:
            ok, last = self._last_write_ok, self._last_error
        free = free_bytes(self.directory)
        if ok is None:  # no write yet: the best guess without writing
            ok = free != 0 and os.path.isdir(self.directory) and os.access(self.directory, os.W_OK)
        return {"writable": ok, "free_bytes": free, "last_error": last}
