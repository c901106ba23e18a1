"""Every benchmark the README shows runs: each one's smallest path, as a command, printing what it measured."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.slow


def bench(*args: str, timeout: int = 600) -> dict:
    done = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "terminate called" not in done.stderr
    return json.loads(done.stdout)


def test_bench_csm_host_overhead():
    r = bench("bench.bench_csm", "--host-overhead", "--frames", "5", "--runs", "1")
    assert r["generate_syncs_per_frame"] > 30 and r["loop_syncs_per_frame"] == 0
    assert r["loop_first_audio_frames"] == 3 and r["generate_first_audio_frames"] == 5
    assert set(r["loop_rows_ms_per_frame"]) == {"1", "2", "4", "8"}
    assert all(v > 0 for v in r["loop_rows_ms_per_frame"].values())
    assert 0 < r["loop_ops_per_step"]["1"] == r["loop_ops_per_step"]["4"] < 4000
    assert r["loop_vs_generate"] > 0 and r["loop_rtf_vs_generate"] > 0 and r["generate_ms_per_frame"] > 0


def test_bench_batch_host_overhead():
    r = bench("bench.bench_batch", "--only", "host-overhead", "--frames", "4")["csm_host_overhead"]
    assert set(r["by_concurrency"]) == {"1", "2", "4", "8"} and r["peak_batch"] >= 2
    assert all(c["audio_s_per_s"] > 0 for c in r["by_concurrency"].values())


def test_bench_stream_hibari():
    r = bench("bench.bench_stream", "--engines", "hibari", "--runs", "1")["hibari"]
    assert 0 < r["in_process"]["first_audio_ms"] <= r["in_process"]["total_ms"]


def test_bench_worker_hits():
    r = bench("bench.bench_worker", "--only", "hit", "-n", "20")
    assert r["cache_hit"]
