"""Record files: one verified unit on a shared volume, written whole or not at all.

Layout: MAGIC, 4-byte big-endian header length, a JSON header (with the payload's size and SHA256), payload.
Writers fill a temp file in the same directory and rename it into place, so readers (in this worker or another)
see the old record, the new one or none. Readers open without following symbolic links, accept regular files
only (a FIFO would block the job), and check the header's shape, the size and the hash before trusting a byte."""
from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import struct
import tempfile
import time
from collections.abc import Callable

TMP_PREFIX = ".tmp-"
STALE_TMP_S = 600   # no write takes this long: an older temp file was left by a killed writer
_LEN = struct.Struct(">I")
_MAX_HEADER = 1 << 20


class Corrupt(Exception):
    """The path holds something other than a whole, verified record."""


def write(path: str, magic: bytes, header: dict, payload: bytes) -> int:
    """Write a record atomically; returns its size in bytes."""
    head = json.dumps({**header, "size": len(payload), "sha256": hashlib.sha256(payload).hexdigest()},
                      separators=(",", ":")).encode()

    def fill(f) -> None:
        f.write(magic + _LEN.pack(len(head)) + head)
        f.write(payload)  # apart from the header: no copy of the payload

    atomic_write(path, fill)
    return len(magic) + _LEN.size + len(head) + len(payload)


def read(path: str, magic: bytes) -> tuple[dict, bytes]:
    """(header, payload) of a verified record. FileNotFoundError when there is none; Corrupt when the path holds
    anything else; other OSErrors for I/O trouble."""
    blob = _read_regular(path)
    header, start = _header(blob, magic)
    payload = blob[start:]
    size, digest = header.get("size"), header.get("sha256")
    if not isinstance(size, int) or len(payload) != size:
        raise Corrupt(f"payload of {len(payload)} bytes, header says {size!r}")
    if hashlib.sha256(payload).hexdigest() != digest:
        raise Corrupt("payload does not match its SHA256")
    return header, payload


def read_header(path: str, magic: bytes) -> dict:
    """The header alone (for listings): checked for shape, the payload not verified."""
    with _open_regular(path) as f:
        return _header(f.read(len(magic) + _LEN.size + _MAX_HEADER), magic)[0]


def atomic_write(path: str, write: Callable) -> None:
    """Write a file so readers, in this process or another worker, see the old file, the new one or none:
    `write(f)` fills a temp file in the same directory, which is then renamed over `path`."""
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o644)  # mkstemp makes 0600; other workers may run as other users
            write(f)
        os.replace(tmp, path)
    except BaseException:
        unlink(tmp)
        raise


def stale(mtime: float, now: float) -> bool:
    """Whether a temp file last written at `mtime` was left by a killed writer."""
    return now - mtime > STALE_TMP_S


def sweep(directory: str) -> int:
    """Remove the temp files killed writers left in `directory`; returns how many."""
    now, removed = time.time(), 0
    try:
        files = list(os.scandir(directory))
    except OSError:
        return 0
    for f in files:
        if not f.name.startswith(TMP_PREFIX):
            continue
        try:
            if stale(f.stat(follow_symlinks=False).st_mtime, now) and unlink(f.path):
                removed += 1
        except OSError:
            continue  # gone meanwhile
    return removed


def unlink(path: str) -> bool:
    try:
        os.unlink(path)
        return True
    except OSError:
        return False


def _open_regular(path: str):
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise Corrupt("a symbolic link") from None
        raise
    f = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        f.close()
        raise Corrupt("not a regular file")
    return f


def _read_regular(path: str) -> bytes:
    with _open_regular(path) as f:
        return f.read()


def _header(blob: bytes, magic: bytes) -> tuple[dict, int]:
    start = len(magic) + _LEN.size
    if len(blob) < start or not blob.startswith(magic):
        raise Corrupt("not a record of this kind (magic)")
    (length,) = _LEN.unpack(blob[len(magic):start])
    if length > _MAX_HEADER or len(blob) < start + length:
        raise Corrupt("header cut short")
    try:
        header = json.loads(blob[start:start + length])
    except ValueError:
        raise Corrupt("header is not JSON") from None
    if not isinstance(header, dict):
        raise Corrupt("header is not an object")
    return header, start + length
