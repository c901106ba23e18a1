"""Stored lexicons: named sets of pronunciations on the network volume, shared by every worker of an endpoint. A
request names one with `lexicon`; its entries apply with the request's own `pronunciations` (which win).

Each lexicon is one record file, <dir>/<name>.lexicon (cache/record.py): written whole and replaced whole, verified
on read. A lexicon the volume refuses to store is a StorageError (the worker's failure, retryable)."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time

from cache import record, volume
from tts.errors import StorageError
from tts.text import lexicon

log = logging.getLogger("tts.lexicons")

NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
MAGIC = b"RPLEXICON1\n"
SUFFIX = ".lexicon"


class LexiconLibrary:
    def __init__(self, directory: str):
        self.directory = directory
        self._lock = threading.Lock()
        self.volume = volume.Health(directory)
        if swept := record.sweep(directory):
            log.info("removed %d temp files of killed lexicon uploads", swept)

    def _path(self, name: str) -> str:
        if not NAME_RE.fullmatch(name):  # no path tricks, whoever calls
            raise ValueError(f"invalid lexicon name {name!r}")
        return os.path.join(self.directory, name + SUFFIX)

    def names(self) -> list[str]:
        try:
            files = os.listdir(self.directory)
        except OSError:
            return []
        return sorted(f[: -len(SUFFIX)] for f in files if f.endswith(SUFFIX) and NAME_RE.fullmatch(f[: -len(SUFFIX)]))

    def get(self, name: str) -> dict[str, str] | None:
        """The lexicon's entries, or None when there is no such usable lexicon."""
        if not NAME_RE.fullmatch(name):
            return None
        try:
            header, payload = record.read(self._path(name), MAGIC)
            entries = lexicon.check(json.loads(payload), "entries")
        except FileNotFoundError:
            return None
        except (record.Corrupt, OSError, ValueError) as e:
            log.warning("lexicon %s is unusable: %s", name, e)
            return None
        return entries if header.get("name") == name else None

    def save(self, name: str, entries: dict[str, str]) -> dict:
        payload = json.dumps(entries, ensure_ascii=False, sort_keys=True).encode()
        meta = {"name": name, "entries": len(entries), "created": int(time.time())}
        with self._lock:
            try:
                os.makedirs(self.directory, exist_ok=True)
                record.write(self._path(name), MAGIC, meta, payload)
            except OSError as e:
                self.volume.failed("write", e)
                full = e.errno in volume.FULL
                raise StorageError(f"could not store lexicon {name!r}: {volume.describe(e)}; "
                                   + ("the volume is full; retry in a minute" if full else "retry later"), full) \
                    from None
            self.volume.wrote()
        log.info("lexicon %s stored (%d entries)", name, len(entries))
        return {**meta, "sha256": hashlib.sha256(payload).hexdigest()}

    def delete(self, name: str) -> bool:
        with self._lock:
            try:
                os.unlink(self._path(name))
            except FileNotFoundError:
                return False
            except OSError as e:
                self.volume.failed("delete", e)
                raise StorageError(f"could not delete lexicon {name!r}: {volume.describe(e)}; retry later") from None
        return True

    def describe(self) -> list[dict]:
        out = []
        for name in self.names():
            try:
                header = record.read_header(self._path(name), MAGIC)
            except (record.Corrupt, OSError) as e:
                log.warning("lexicon %s is unusable: %s", name, e)
                continue
            if header.get("name") == name:
                out.append({"name": name, "entries": header.get("entries"), "created": header.get("created")})
        return out
