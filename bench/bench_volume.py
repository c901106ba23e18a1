"""Many workers sharing one cache directory, and a volume that fills then frees; prints one JSON object.

    python -m bench.bench_volume               # 5 workers x 3,000 mixed requests on a 2 MB cap, then a full volume
    python -m bench.bench_volume --ops 100     # the smallest path

Goals (issue 18): the directory never above the cap + 5 entries (one per worker); after the volume fills and
frees, at least 9 of 10 repeats hit.

shared_cap: each worker is a process with 3 threads taking requests from 300 (Zipf: a few popular, many rare);
a hit is checked against its request's bytes, a miss is stored; entries are sized like results (20-240 KB). They
run straight against AudioCache: the engine is not what is measured. Another process scans the directory as fast
as it can; `max_dir_bytes` is the most it saw.

full_volume: a 3 MB tmpfs mounted in a mount namespace of its own (unshare; skipped where this machine cannot
mount one), 5 long-lived workers with no cap set (the default: half the volume's free space). Then the cap set
above the volume (the old 10 GiB default on a 10 GB volume): 150 misses, 10 repeats. Then another tenant fills
every byte left: 10 new requests, a voice upload. Then it frees its space: 10 new requests, then 10 repeats.
A repeat is a request one worker stored, asked of another."""
from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from cache import AudioCache, volume  # noqa: E402

CAP = 2_000_000
WORKERS = 5
THREADS = 3
SMALLEST, LARGEST = 20_000, 240_000


def key_of(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


def payload(i: int, smallest: int = SMALLEST, largest: int = LARGEST) -> bytes:
    digest = hashlib.sha256(f"audio {i}".encode()).digest()
    size = smallest + int.from_bytes(digest[:4], "big") % (largest - smallest + 1)
    return (digest * (size // 32 + 1))[:size]


def du(path: str) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


# -- shared_cap ------------------------------------------------------------------------------------------------------
def _mixed(directory: str, seed: int, ops: int, results) -> None:
    cache = AudioCache(directory, CAP)
    wrong, put_ms = [0], []

    def run(thread: int) -> None:
        rnd = np.random.default_rng(seed * 100 + thread)
        for _ in range(ops // THREADS):
            i = int(rnd.zipf(1.3)) % 300
            entry = cache.get(key_of(i))
            if entry is None:
                t = time.perf_counter()
                cache.put(key_of(i), payload(i), {"i": i})
                put_ms.append((time.perf_counter() - t) * 1e3)
            elif entry.data != payload(i):
                wrong[0] += 1

    threads = [threading.Thread(target=run, args=(t,)) for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put({"hits": cache.hits, "misses": cache.misses, "writes": cache.writes, "evictions": cache.evictions,
                 "errors": cache.errors, "wrong_bytes": wrong[0], "put_ms": put_ms})


def _watch(directory: str, stop, results) -> None:
    largest = samples = 0
    while not stop.is_set():
        largest = max(largest, du(directory))
        samples += 1
    results.put({"max_dir_bytes": largest, "samples": samples})


def shared_cap(ops: int) -> dict:
    directory = tempfile.mkdtemp(prefix="bench-volume-")
    ctx = mp.get_context("fork")
    results, watched, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
    watcher = ctx.Process(target=_watch, args=(directory, stop, watched))
    watcher.start()
    t = time.perf_counter()
    procs = [ctx.Process(target=_mixed, args=(directory, seed, ops, results)) for seed in range(WORKERS)]
    for p in procs:
        p.start()
    per_worker = [results.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    seconds = time.perf_counter() - t
    stop.set()
    watch = watched.get(timeout=60)
    watcher.join()
    entry = LARGEST + 1024   # the largest payload and its header
    final = du(directory)
    shutil.rmtree(directory)
    put_ms = sorted(ms for w in per_worker for ms in w["put_ms"])
    totals = {k: sum(w[k] for w in per_worker) for k in ("hits", "misses", "writes", "evictions", "errors",
                                                         "wrong_bytes")}
    return {"workers": WORKERS, "threads_per_worker": THREADS, "requests_per_worker": ops // THREADS * THREADS,
            "cap_bytes": CAP, "largest_entry_bytes": entry, "bound_bytes": CAP + WORKERS * entry,
            "max_dir_bytes": watch["max_dir_bytes"], "dir_samples": watch["samples"],
            "max_over_cap_in_entries": round(max(0, watch["max_dir_bytes"] - CAP) / entry, 2),
            "final_dir_bytes": final, **totals,
            "put_ms_p50": round(put_ms[len(put_ms) // 2], 2) if put_ms else None,
            "put_ms_p95": round(put_ms[int(len(put_ms) * 0.95)], 2) if put_ms else None,
            "seconds": round(seconds, 1)}


# -- full_volume (inside a mount namespace, on a tmpfs) ----------------------------------------------------------
def _worker(directory: str, cap: int | None, conn) -> None:
    """A long-lived worker taking commands: ("put", keys) -> how many stored, ("get", keys) -> how many hit."""
    cache = AudioCache(directory, cap, sweep=False)
    while True:
        command = conn.recv()
        if command is None:
            conn.send(cache.stats())
            return
        op, keys = command
        if op == "put":
            conn.send(sum(cache.put(key_of(i), payload(i, 40_000, 80_000), {}) for i in keys))
        else:
            conn.send(sum(cache.get(key_of(i)) is not None for i in keys))


class Workers:
    def __init__(self, directory: str, cap: int | None):
        ctx = mp.get_context("fork")
        self.conns, self.procs = [], []
        for _ in range(WORKERS):
            mine, theirs = ctx.Pipe()
            p = ctx.Process(target=_worker, args=(directory, cap, theirs))
            p.start()
            self.conns.append(mine)
            self.procs.append(p)

    def each(self, op: str, keys_of) -> list[int]:
        for w, conn in enumerate(self.conns):
            conn.send((op, keys_of(w)))
        return [conn.recv() for conn in self.conns]

    def repeats(self, first: int) -> int:
        """10 new requests, 2 from each worker, asked again of the next worker: how many hit."""
        self.each("put", lambda w: range(first + 2 * w, first + 2 * w + 2))
        return sum(self.each("get", lambda w: range(first + 2 * ((w + 1) % WORKERS),
                                                    first + 2 * ((w + 1) % WORKERS) + 2)))

    def close(self) -> list[dict]:
        for conn in self.conns:
            conn.send(None)
        stats = [conn.recv() for conn in self.conns]
        for p in self.procs:
            p.join()
        return stats


def _fill(path: str) -> None:
    with open(path, "ab", buffering=0) as f:
        for size in (1 << 16, 1 << 12, 1 << 9):
            try:
                while True:
                    f.write(b"\0" * size)
            except OSError:
                continue


def full_volume(mount: str) -> dict:
    from tts.audio_input import AudioClip
    from tts.errors import StorageError
    from tts.voices import VoiceLibrary

    cache_dir, ballast = os.path.join(mount, "cache"), os.path.join(mount, "ballast")
    out: dict = {"volume_bytes": volume.size_bytes(mount)}
    workers = Workers(cache_dir, None)
    workers.each("put", lambda w: range(30 * w, 30 * w + 30))
    stats = workers.close()[0]
    out["default_cap"] = {"max_bytes": stats["max_bytes"], "dir_bytes": stats["bytes"],
                          "free_bytes": stats["free_bytes"], "reserve_bytes": stats["reserve_bytes"]}
    workers = Workers(cache_dir, 10 * 1024**3)
    stored = workers.each("put", lambda w: range(200 + 30 * w, 230 + 30 * w))
    out["cap_above_volume"] = {"stored_of_150": sum(stored), "repeats_hit_of_10": workers.repeats(500),
                               "free_bytes": volume.free_bytes(mount)}
    _fill(ballast)
    out["filled"] = {"free_bytes": volume.free_bytes(mount),
                     "stored_of_10": sum(workers.each("put", lambda w: range(600 + 2 * w, 602 + 2 * w)))}
    _fill(ballast + "2")
    samples = (0.1 * np.sin(np.arange(24000) / 7)).astype(np.float32)
    library = VoiceLibrary(os.path.join(mount, "voices"), 24000)
    clip = AudioClip(samples, 24000, hashlib.sha256(samples.tobytes()).hexdigest())
    try:
        library.save("v", clip, "t")
        out["filled"]["voice_upload"] = "stored"
    except StorageError as e:   # what Actions.upload_voice does: the cache gives way, then one more try
        made_room = AudioCache(cache_dir, 10 * 1024**3, sweep=False).make_room(samples.size * 2 + 4096,
                                                                                library.directory)
        library.save("v", clip, "t")
        out["filled"]["voice_upload"] = f"stored after the cache made room ({e}; made room: {made_room})"
    os.unlink(ballast)
    os.unlink(ballast + "2")
    out["freed"] = {"free_bytes": volume.free_bytes(mount),
                    "stored_of_10": sum(workers.each("put", lambda w: range(700 + 2 * w, 702 + 2 * w))),
                    "repeats_hit_of_10": workers.repeats(800)}
    stats = workers.close()
    out["freed"].update({"writable": all(s["writable"] for s in stats),
                         "evictions": sum(s["evictions"] for s in stats), "errors": sum(s["errors"] for s in stats)})
    return out


def on_tmpfs(size: str = "3m") -> dict:
    """full_volume() in a child process, on a fresh tmpfs mounted in a mount namespace of its own."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return {"skipped": "no unshare(1)"}
    command = [unshare, "-m"] if os.geteuid() == 0 else [unshare, "-rm"]
    mount = tempfile.mkdtemp(prefix="bench-tiny-volume-")
    mounted = 'mount -t tmpfs -o size="$1" tiny "$2" || exit 77; shift 2; exec "$@"'
    try:
        done = subprocess.run([*command, "sh", "-c", mounted, "sh", size, mount, sys.executable, "-m",
                               "bench.bench_volume", "--inside", mount], cwd=ROOT, capture_output=True, text=True,
                              timeout=600)
    finally:
        os.rmdir(mount)
    if done.returncode != 0 and not done.stdout.strip():
        return {"skipped": f"cannot mount a tmpfs here: {done.stderr.strip()[-300:]}"}
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=3000, help="requests per worker (default 3000)")
    parser.add_argument("--inside", help=argparse.SUPPRESS)   # the tmpfs run, inside its mount namespace
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.ERROR)   # a full volume logs a warning per refused write
    if args.inside:
        print(json.dumps(full_volume(args.inside)))
        return
    print(json.dumps({"shared_cap": shared_cap(args.ops), "full_volume": on_tmpfs()}, indent=1))


if __name__ == "__main__":
    main()
