"""The worker in RunPod's deployed mode, against a stand-in for RunPod's job queue on 127.0.0.1: the SDK
takes jobs from RUNPOD_WEBHOOK_GET_JOB and posts progress and results to RUNPOD_WEBHOOK_POST_OUTPUT."""
import base64
import io
import json
import os
import subprocess
import sys
import threading
import time
import urllib.parse

import pytest
import soundfile as sf

from tests.helpers import ROOT, QuietHandler, rms_db, serve, worker_env

pytestmark = pytest.mark.slow  # worker processes

LONG_TEXT = " ".join(f"This is sentence number {i}, which the worker reads as part of a longer answer."
                     for i in range(14))  # about 1100 characters, more once the numbers are words: 3+ chunks


def run_deployed(queue, tmp_path, **env) -> str:
    """The worker in deployed mode against `queue` (a JobQueue stand-in) until the queue says it is done; its log."""
    with serve(queue) as base, open(tmp_path / "worker.log", "w") as log:
        env = worker_env(tmp_path, RUNPOD_WEBHOOK_GET_JOB=f"{base}/job-take/$ID?gpu=none",
                         RUNPOD_WEBHOOK_POST_OUTPUT=f"{base}/job-done/$RUNPOD_POD_ID/$ID?gpu=none",
                         RUNPOD_POD_ID="test-pod", RUNPOD_SKIP_GPU_CHECK="true",
                         **{k: v.replace("{base}", base) for k, v in env.items()})
        worker = subprocess.Popen([sys.executable, os.path.join(ROOT, "handler.py")], cwd=tmp_path, env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
        try:
            finished = queue.done.wait(timeout=120)
            time.sleep(0.5)  # let a late progress post land before we look
        finally:
            worker.terminate()
            worker.wait(timeout=20)
    logs = (tmp_path / "worker.log").read_text()
    assert finished, logs[-3000:]
    return logs


class JobQueue(QuietHandler):
    jobs: list = []
    posts: list = []
    done = threading.Event()

    def do_GET(self):  # noqa: N802
        # One job from /job-take/, or a list from /job-take-batch/?batch_size=N (a worker taking several at once).
        url = urllib.parse.urlsplit(self.path)
        if not url.path.startswith(("/job-take/", "/job-take-batch/")) or not self.jobs:
            time.sleep(0.2)  # RunPod's job take is a long poll: no job, no instant answer
            return self.reply(204)
        if url.path.startswith("/job-take-batch/"):
            size = int(urllib.parse.parse_qs(url.query).get("batch_size", ["1"])[0])
            taken = [self.jobs.pop(0) for _ in range(min(size, len(self.jobs)))]
            return self.reply(200, json.dumps(taken).encode(), {"Content-Type": "application/json"})
        self.reply(200, json.dumps(self.jobs.pop(0)).encode(), {"Content-Type": "application/json"})

    def do_POST(self):  # noqa: N802
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        job_id = urllib.parse.urlsplit(self.path).path.rsplit("/", 1)[-1]
        self.posts.append((job_id, json.loads(raw)))
        self.reply(200)
        finals = [p for p in self.posts if p[1].get("status") != "IN_PROGRESS"]
        if len(finals) >= 2:
            self.done.set()


def test_deployed_worker_takes_jobs_reports_progress_and_posts_results(tmp_path):
    JobQueue.jobs = [{"id": "job-long", "input": {"text": LONG_TEXT, "format": "mp3"}},
                     {"id": "job-bad", "input": {"text": "Hi", "speed": 9}}]
    JobQueue.posts = []
    JobQueue.done.clear()
    logs = run_deployed(JobQueue, tmp_path)
    results = {job: body for job, body in JobQueue.posts if body.get("status") != "IN_PROGRESS"}
    progress = [body["output"] for job, body in JobQueue.posts if body.get("status") == "IN_PROGRESS"]

    out = results["job-long"]["output"]
    samples, rate = sf.read(io.BytesIO(base64.b64decode(out["audio_base64"])))
    assert rate == 24000 and len(samples) / rate > 30 and rms_db(samples) > -35
    n = out["chunks_processed"]
    assert n >= 3
    assert progress == [{"chunks_done": i, "chunks_total": n} for i in range(1, n)]

    assert results["job-bad"] == {"error": "speed: must be a number from 0.5 to 2.0; got 9"}
    assert "audio_base64" not in logs and "DEBUG" not in logs


class StreamQueue(JobQueue):
    """Also takes the stream posts of a generator handler (RUNPOD_WEBHOOK_POST_STREAM)."""
    streams: list = []

    def do_POST(self):  # noqa: N802
        if "/job-stream/" not in self.path:
            return super().do_POST()
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.streams.append((urllib.parse.urlsplit(self.path).path.rsplit("/", 1)[-1], json.loads(raw)))
        self.reply(200)


def test_deployed_stream_mode_posts_items_as_made_and_fails_jobs_on_an_error_item(tmp_path):
    StreamQueue.jobs = [{"id": "job-stream", "input": {"text": LONG_TEXT, "format": "ogg"}},
                        {"id": "job-bad", "input": {"text": "Hi", "speed": 9}}]
    StreamQueue.posts, StreamQueue.streams = [], []
    StreamQueue.done.clear()
    run_deployed(StreamQueue, tmp_path, RUNPOD_WEBHOOK_POST_STREAM="{base}/job-stream/$RUNPOD_POD_ID/$ID?gpu=none",
                 HANDLER_MODE="stream")
    items = [body["output"] for job, body in StreamQueue.streams if job == "job-stream"]
    assert len(items) > 3 and items[-1]["done"] is True and items[-1]["chunks_processed"] >= 3
    data = b"".join(base64.b64decode(item["audio_base64"]) for item in items)
    samples, rate = sf.read(io.BytesIO(data))
    assert rate == 24000 and len(samples) / rate > 30 and rms_db(samples) > -35
    results = dict(StreamQueue.posts)
    assert results["job-bad"]["error"] == "speed: must be a number from 0.5 to 2.0; got 9"
    assert "error" not in results["job-stream"]


class BusyQueue(JobQueue):
    """Counts heartbeats (RUNPOD_WEBHOOK_PING) and job fetches, with the time each final result arrived."""
    pings: list = []
    takes: list = []
    finals: dict = {}

    def do_GET(self):  # noqa: N802
        if self.path.startswith("/ping/"):
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
            self.pings.append((time.monotonic(), query.get("job_id", [""])[0]))
            return self.reply(200)
        if "/job-take" in self.path:
            self.takes.append(time.monotonic())
        return super().do_GET()

    def do_POST(self):  # noqa: N802
        super().do_POST()
        job_id, body = self.posts[-1]
        if body.get("status") != "IN_PROGRESS":
            self.finals.setdefault(job_id, time.monotonic())


def test_deployed_jobs_run_concurrently_and_the_loop_keeps_fetching_and_beating(tmp_path):
    BusyQueue.jobs = [{"id": "job-long", "input": {"text": LONG_TEXT * 2, "format": "ogg"}},
                      {"id": "job-short", "input": {"text": "A short job beside the long one."}}]
    BusyQueue.posts, BusyQueue.pings, BusyQueue.takes, BusyQueue.finals = [], [], [], {}
    BusyQueue.done.clear()
    run_deployed(BusyQueue, tmp_path, RUNPOD_WEBHOOK_PING="{base}/ping/$RUNPOD_POD_ID", RUNPOD_PING_INTERVAL="1000",
                 RUNPOD_AI_API_KEY="loopback-only", MAX_CONCURRENCY="2")
    long_started = BusyQueue.takes[0]
    assert BusyQueue.finals["job-short"] < BusyQueue.finals["job-long"]  # it ran beside the long job
    during = [t for t in BusyQueue.takes if long_started < t < BusyQueue.finals["job-long"]]
    beats = [jobs for t, jobs in BusyQueue.pings if long_started < t < BusyQueue.finals["job-long"]]
    assert 2 <= len(during) < 200, len(during)  # the loop kept taking jobs, as long polls (not a busy loop)
    assert any("job-long" in jobs for jobs in beats), BusyQueue.pings  # heartbeats name the running job
    results = {job: body for job, body in BusyQueue.posts if body.get("status") != "IN_PROGRESS"}
    assert results["job-long"]["output"]["chunks_processed"] >= 6 and "error" not in results["job-short"]
