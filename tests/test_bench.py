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
    assert 0 < r["openai_speech"]["first_audio_ms"] <= r["openai_speech"]["total_ms"]


def test_bench_worker_hits():
    r = bench("bench.bench_worker", "--only", "hit", "-n", "20")
    assert r["cache_hit"]


def test_bench_volume_smallest():
    r = bench("bench.bench_volume", "--ops", "60")
    assert r["shared_cap"]["max_dir_bytes"] <= r["shared_cap"]["bound_bytes"] and r["shared_cap"]["wrong_bytes"] == 0
    assert r["full_volume"].get("skipped") or r["full_volume"]["freed"]["repeats_hit_of_10"] >= 9


def test_bench_text_three_sentences():
    r = bench("bench.bench_text", "--sentences", "3", "--repeats", "2")
    assert r["normalize"]["sentences"] >= 100 and 0 < r["normalize"]["p50_ms"] <= r["normalize"]["p95_ms"]
    assert r["asr"]["sentences"] == 3 and r["asr"]["reference_words"] > 0
    assert all(0 <= r["asr"][k] <= 1.5 for k in ("wer_written", "wer_spoken", "wer_reference"))


def test_bench_formats_wav_mulaw_aac():
    r = bench("bench.bench_formats", "--formats", "wav,mulaw,aac", "--runs", "1")
    assert r["audio_s"] > 2 and set(r["formats"]) == {"wav", "mulaw", "aac"}
    wav, mulaw, aac = (r["formats"][f] for f in ("wav", "mulaw", "aac"))
    assert (wav["rate"], mulaw["rate"], aac["rate"]) == (24000, 8000, 24000) and 384 <= wav["kbps"] < 385
    assert aac["vs_wav"] > 10 and aac["encode_ms"] > 0 and 16 < aac["kbps"] < 100
    assert all(f["first_byte_ms"] > 0 and 0 < f["first_byte_audio_ms"] <= r["audio_s"] * 1000
               for f in r["formats"].values())


def test_bench_agent_quick():
    r = bench("bench.bench_agent", "--quick", "--csm", timeout=300)
    assert r["max_realtime_sessions"] >= 1 and set(r["levels"]) >= {"1"}
    assert 0 < r["first_audio_after_clause_ms"] < 2000 and 0 < r["last_audio_after_last_token_ms"] < 2000
    assert 0 < r["cancel_ms"] < 1000 and r["word_boundaries"] == 8
    assert 0 < r["csm_tiny_first_audio_frames"] <= 3 and r["csm_tiny_first_audio_after_clause_ms"] > 0
    assert 0 <= r["word_error_ms_p50"] <= r["word_error_ms_p95"] and r["word_error_ms_alignment_p50"] >= 0
