"""The worker's job loop against a job queue that misbehaves: a stand-in for RunPod's queue on 127.0.0.1 that
answers job fetches with 5xx and dropped connections, drops a result post mid-request, answers a post with 503,
answers another slowly, and delivers one job twice. Every job must end completed or failed, none lost; a SIGTERM
during a job lets that job finish and post its result before the worker exits."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

import pytest

from tests.helpers import ROOT, QuietHandler, serve, worker_env

pytestmark = pytest.mark.slow  # worker processes


class FaultyQueue(QuietHandler):
    """Scripted faults by request number; `finals` maps a job id to the final bodies it acknowledged."""
    protocol_version = "HTTP/1.1"  # keep-alive, as RunPod's queue: a dropped connection is then a real event
    jobs: list = []
    fetch_faults: list = []   # per job-take request, in order: "503", "drop", "500", then normal service
    post_faults: dict = {}    # job id -> list of faults for its successive final posts: "503", "drop", "slow"
    fetches = 0
    posts: list = []          # (job id, body, acknowledged)
    lock = threading.Lock()
    done = threading.Event()
    expect: set = set()

    def handle(self):
        try:
            super().handle()
        except (ConnectionResetError, BrokenPipeError):
            pass  # the other side of a connection we dropped on purpose

    def do_GET(self):  # noqa: N802
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/job-stop/"):
            time.sleep(0.2)
            return self.reply(204)
        url = urllib.parse.urlsplit(self.path)
        batch = url.path.startswith("/job-take-batch/")  # a worker taking several jobs at once
        size = int(urllib.parse.parse_qs(url.query).get("batch_size", ["1"])[0]) if batch else 1
        with self.lock:
            fault = self.fetch_faults.pop(0) if self.fetch_faults else None
            type(self).fetches += 1
            jobs = [self.jobs.pop(0) for _ in range(min(size, len(self.jobs)))] if fault is None else []
        if fault == "drop":
            return self._drop()
        if fault is not None:
            return self.reply(int(fault), b"queue unavailable")
        if not jobs:
            time.sleep(0.05)
            return self.reply(204)
        self.reply(200, json.dumps(jobs if batch else jobs[0]).encode(), {"Content-Type": "application/json"})

    def do_POST(self):  # noqa: N802
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        job_id = urllib.parse.urlsplit(self.path).path.rsplit("/", 1)[-1]
        body = json.loads(raw)
        final = body.get("status") != "IN_PROGRESS"
        with self.lock:
            faults = self.post_faults.get(job_id, [])
            fault = faults.pop(0) if final and faults else None
        if fault == "drop":
            self.posts.append((job_id, body, False))
            return self._drop()
        if fault == "503":
            self.posts.append((job_id, body, False))
            return self.reply(503)
        if fault == "slow":
            time.sleep(3)
        self.posts.append((job_id, body, True))
        self.reply(200)
        if final and self.expect <= {j for j, b, ok in self.posts if ok and b.get("status") != "IN_PROGRESS"}:
            self.done.set()

    def _drop(self):
        """Close the connection without an answer, as a proxy restart or a network cut would."""
        self.close_connection = True
        try:
            self.connection.shutdown(2)
        except OSError:
            pass


def run_worker(tmp_path, base, log):
    env = worker_env(tmp_path, RUNPOD_WEBHOOK_GET_JOB=f"{base}/job-take/$ID?gpu=none",
                     RUNPOD_WEBHOOK_POST_OUTPUT=f"{base}/job-done/$RUNPOD_POD_ID/$ID?gpu=none",
                     RUNPOD_POD_ID="test-pod", RUNPOD_SKIP_GPU_CHECK="true")
    return subprocess.Popen([sys.executable, os.path.join(ROOT, "handler.py")], cwd=tmp_path, env=env, stdout=log,
                            stderr=subprocess.STDOUT)


def reset(jobs, fetch_faults, post_faults):
    FaultyQueue.jobs, FaultyQueue.fetch_faults, FaultyQueue.post_faults = jobs, fetch_faults, post_faults
    FaultyQueue.fetches, FaultyQueue.posts = 0, []
    FaultyQueue.expect = {j["id"] for j in jobs}
    FaultyQueue.done.clear()


def outcome(sent: set) -> dict:
    """Jobs sent / completed / failed / lost, by the final results the queue acknowledged."""
    finals = {}
    for job_id, body, acknowledged in FaultyQueue.posts:
        if acknowledged and body.get("status") != "IN_PROGRESS":
            finals.setdefault(job_id, body)
    completed = {j for j, b in finals.items() if "output" in b and "error" not in b}
    failed = {j for j, b in finals.items() if "error" in b}
    return {"sent": len(sent), "completed": len(completed), "failed": len(failed),
            "lost": len(sent - completed - failed), "finals": finals}


def test_a_misbehaving_queue_loses_no_job(tmp_path):
    jobs = [{"id": f"job-{i}", "input": {"text": f"This is job number {i}.", "format": "mp3"}} for i in range(8)]
    jobs.insert(5, {"id": "job-bad", "input": {"text": "Hi", "speed": 9}})
    jobs.insert(7, dict(jobs[3]))  # job-3 delivered a second time
    sent = {j["id"] for j in jobs}
    reset(jobs, fetch_faults=["503", "drop", "500"],
          post_faults={"job-1": ["503"], "job-2": ["drop"], "job-4": ["slow"], "job-6": ["drop", "503"]})
    log_path = tmp_path / "worker.log"
    with serve(FaultyQueue) as base, open(log_path, "w") as log:
        worker = run_worker(tmp_path, base, log)
        try:
            finished = FaultyQueue.done.wait(timeout=120)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    logs = log_path.read_text()
    report = outcome(sent)
    print({k: v for k, v in report.items() if k != "finals"})
    assert finished, (report, logs[-3000:])
    assert report["lost"] == 0 and report["failed"] == 1 and report["completed"] == len(sent) - 1, report
    assert report["finals"]["job-bad"]["error"] == "speed: must be a number from 0.5 to 2.0; got 9"
    outputs = [b["output"] for j, b, ok in FaultyQueue.posts if j == "job-3" and ok]
    assert len(outputs) == 2 and outputs[1]["cache_hit"] is True  # the repeat delivery is a cache hit
    assert outputs[0]["audio_base64"] == outputs[1]["audio_base64"]
    # The SDK retries 5xx answers itself; a dropped connection is retried by tts.sdk_fixes.
    assert logs.count("result post failed (ServerDisconnectedError") == 2


def test_sigterm_during_a_job_lets_it_finish_and_post_its_result(tmp_path):
    long_text = " ".join(f"Sentence {i} of a long answer that keeps the worker busy for a while." for i in range(30))
    reset([{"id": "job-long", "input": {"text": long_text, "format": "ogg"}}], [], {})
    log_path = tmp_path / "worker.log"
    with serve(FaultyQueue) as base, open(log_path, "w") as log:
        worker = run_worker(tmp_path, base, log)
        try:
            deadline = time.monotonic() + 90
            while FaultyQueue.jobs and time.monotonic() < deadline:  # wait until the job was taken
                time.sleep(0.05)
            time.sleep(0.3)
            worker.send_signal(signal.SIGTERM)
            code = worker.wait(timeout=90)
        finally:
            if worker.poll() is None:
                worker.kill()
    logs = log_path.read_text()
    report = outcome({"job-long"})
    assert report["completed"] == 1, (report, logs[-3000:])
    assert report["finals"]["job-long"]["output"]["duration_ms"] > 30_000
    assert code == 0, logs[-3000:]
