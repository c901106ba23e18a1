"""Continuous batching of CSM requests (tts/engines/csm_batch.py) on the tiny random model: a request's codes do not
depend on its batch mates, requests join and leave at frame boundaries, and one request's failure is its own."""
import threading
import time

import numpy as np
import pytest
import torch

from cache import AudioCache
from tests.csm_prompts import PROMPTS, embeds, prompt
from tests.helpers import joined, make_settings
from tools.tiny_csm import build_tiny_csm
from tts.doors.queue import queue_job
from tts.engines.csm_loop import FrameLoop
from tts.service import TTSService

FRAMES = 20
TEXTS = ["One.", "Two words.", "A few more words.", "Now a longer sentence to say.", "Short.", "Medium length text.",
         "The seventh request of eight.", "And the last."]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from transformers import AutoProcessor, CsmForConditionalGeneration

    path = build_tiny_csm(str(tmp_path_factory.mktemp("tiny-csm")))
    return CsmForConditionalGeneration.from_pretrained(path).eval(), AutoProcessor.from_pretrained(path)


@pytest.fixture(scope="module")
def engine4(tmp_path_factory):
    from tts.engines import load_engine

    path = build_tiny_csm(str(tmp_path_factory.mktemp("tiny-csm-batch")))
    return load_engine("csm", make_settings(model_id=path, device="cpu", csm_batch=4))


def solo(model, inputs, greedy=True, seed=0):
    loop = FrameLoop(model, greedy=greedy)
    loop.prefill(0, embeds(model, inputs), seed, 0.9, 50)
    out = []
    for f in range(FRAMES):
        loop.step()
        out.append(loop.codes(0, f, f + 1))
    return torch.cat(out)


@pytest.mark.parametrize("batch", [1, 2, 4, 8])
def test_greedy_codes_in_a_batch_equal_the_codes_alone(tiny, batch):
    model, processor = tiny
    requests = [prompt(processor, [("0", "Hello there.", PROMPTS["context audio"][0][2]), (str(i % 10), t, None)])
                if i % 3 == 1 else prompt(processor, [(str(i % 10), t, None)]) for i, t in enumerate(TEXTS[:batch])]
    want = [solo(model, r) for r in requests]
    loop = FrameLoop(model, slots=batch, greedy=True)
    got: list[list] = [[] for _ in requests]
    joined_at = [2 * i for i in range(batch)]  # each joins two steps after the one before: at a frame boundary
    step = 0
    while any(len(g) < FRAMES for g in got):
        for i, r in enumerate(requests):
            if joined_at[i] == step:
                loop.prefill(i, embeds(model, r), 0, 0.9, 50)
        loop.step(batch)
        step += 1
        for i in range(batch):
            if joined_at[i] < step and len(got[i]) < FRAMES:
                got[i].append(loop.codes(i, len(got[i]), len(got[i]) + 1))
                if len(got[i]) == FRAMES:
                    loop.release(i)  # it leaves; the others go on
    for i in range(batch):
        assert torch.equal(torch.cat(got[i]), want[i]), f"request {i} in a batch of {batch}"


def test_concurrent_requests_batch_and_each_sounds_as_it_would_alone(engine4):
    eng = engine4
    inputs = [eng.prompt([], i, t) for i, t in enumerate(TEXTS[:4])]
    alone = [joined(eng.stream(x, FRAMES, seed=i, temperature=0.9, top_k=50)) for i, x in enumerate(inputs)]
    eng.batcher.peak_batch = 0
    together: list = [None] * 4
    start = threading.Barrier(4)

    def run(i):
        start.wait()
        together[i] = joined(eng.stream(inputs[i], FRAMES, seed=i, temperature=0.9, top_k=50))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert eng.batcher.peak_batch > 1  # they really shared frame steps
    for i in range(4):
        assert np.array_equal(together[i], alone[i]), f"request {i}"
    assert eng.batcher.busy == 0


def test_a_failing_request_fails_alone_and_a_dropped_one_frees_its_slot(engine4, monkeypatch):
    eng = engine4
    real_embed = eng.batcher.embed
    bad = eng.prompt([], 0, "This one breaks.")

    def embed(inputs):
        if inputs is bad:
            raise RuntimeError("a broken prompt")
        return real_embed(inputs)

    monkeypatch.setattr(eng.batcher, "embed", embed)
    good_inputs = eng.prompt([], 1, "This one is fine.")
    results = {}

    def good():
        results["good"] = joined(eng.stream(good_inputs, FRAMES, seed=1, temperature=0.9, top_k=50))

    t = threading.Thread(target=good)
    t.start()
    with pytest.raises(RuntimeError, match="a broken prompt"):
        list(eng.stream(bad, FRAMES, seed=0, temperature=0.9, top_k=50))
    t.join(60)
    assert len(results["good"]) == FRAMES * 1920
    stream = eng.stream(good_inputs, 200, seed=2, temperature=0.9, top_k=50)
    next(stream)
    stream.close()  # the consumer went away after the first piece
    deadline = time.monotonic() + 10
    while eng.batcher.busy and time.monotonic() < deadline:
        time.sleep(0.01)
    assert eng.batcher.busy == 0


def test_jobs_on_several_threads_batch_through_the_service(engine4, tmp_path):
    svc = TTSService(engine4, AudioCache(str(tmp_path / "c"), 0), make_settings())
    requests = [{"text": t, "seed": i, "format": "wav", "cache": False} for i, t in enumerate(TEXTS[:4])]
    alone = [queue_job(svc, r)["audio_base64"] for r in requests]
    results: list = [None] * 4
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, queue_job(svc, requests[i])))
               for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert [r["audio_base64"] for r in results] == alone
    assert svc.counts["jobs"] == 8 and svc.counts["synthesized"] == 8


def test_concurrent_websocket_clients_share_frame_steps(engine4, tmp_path):
    import json

    from websockets.sync.client import connect

    from tests.helpers import app_server
    from tts.doors.backend import Backend

    backend = Backend(make_settings())
    backend.ready(TTSService(engine4, AudioCache(str(tmp_path / "c"), 0), backend.settings))
    assert backend.runner.threads == 4  # the engine's batch capacity
    engine4.batcher.peak_batch = 0
    results: list = [None] * 3
    start = threading.Barrier(3)

    def client(i):
        with connect(f"ws://127.0.0.1:{port}/ws/generate") as ws:
            start.wait()
            ws.send(json.dumps({"text": TEXTS[i], "speaker_id": i, "cache": False}))
            frames = []
            while isinstance(message := ws.recv(timeout=60), bytes):
                frames.append(message)
            results[i] = (b"".join(frames), json.loads(message))

    with app_server(backend) as port:
        threads = [threading.Thread(target=client, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    assert engine4.batcher.peak_batch >= 2
    for pcm, done in results:
        assert done["done"] and len(pcm) == done["size_bytes"] > 0


def test_a_request_that_waits_past_its_deadline_for_a_slot_times_out(tmp_path):
    from tts.engines import load_engine
    from tts.errors import TimedOut

    eng = load_engine("csm", make_settings(model_id=build_tiny_csm(str(tmp_path / "m")), device="cpu", csm_batch=1))
    busy = eng.stream(eng.prompt([], 0, "I hold the only slot."), 400, seed=0, temperature=0.9, top_k=50)
    next(busy)  # running, in the one slot
    with pytest.raises(TimedOut, match="waited past its budget"):
        list(eng.stream(eng.prompt([], 1, "Me too."), 20, 1, 0.9, 50, deadline=time.monotonic() + 0.2))
    busy.close()
    assert len(joined(eng.stream(eng.prompt([], 1, "Now me."), 5, 1, 0.9, 50))) == 5 * 1920


def test_a_request_that_uses_its_whole_position_budget_leaves_its_batch_mates_unharmed(tmp_path):
    """The issue's repro on a small model: request A gets exactly the positions left after its prompt; B, beside
    it, goes on after A ends (A's row was left at the last position + 1 and the next step wrote out of bounds)."""
    from tts.engines import load_engine

    eng = load_engine("csm", make_settings(model_id=build_tiny_csm(str(tmp_path / "m"), positions=160),
                                           device="cpu", csm_batch=2))
    try:
        long_prompt = eng.prompt([], 0, "word " * 29)
        room = 160 - long_prompt["input_ids"].shape[1]
        assert 0 < room < 20
        short = eng.prompt([], 1, "Short.")
        alone = joined(eng.stream(short, room + 12, seed=4, temperature=0.9, top_k=50))
        results = {}
        started = threading.Event()

        def a():
            pieces = eng.stream(long_prompt, room, seed=3, temperature=0.9, top_k=50)
            results["a"] = [next(pieces)]
            started.set()
            results["a"] += list(pieces)

        t = threading.Thread(target=a)
        t.start()
        started.wait(30)
        results["b"] = joined(eng.stream(short, room + 12, seed=4, temperature=0.9, top_k=50))
        t.join(30)
        assert sum(len(p.samples) for p in results["a"]) == room * 1920
        assert np.array_equal(results["b"], alone)
        assert not eng.loop.state.active.any() and not eng.loop.state.pos.any()
    finally:
        eng.close()


@pytest.mark.parametrize("message", ["CUDA error: device-side assert triggered\nCUDA kernel errors might be "
                                     "asynchronously reported", "CUDA error: an illegal memory access was encountered"])
def test_a_cuda_error_in_the_shared_step_ends_the_batch_with_worker_poisoned(engine4, monkeypatch, message):
    """Sticky CUDA errors leave the process's context unusable: the worker must restart, not answer every later
    job with an internal error."""
    from tts.errors import WorkerPoisoned

    def broken(rows):
        raise RuntimeError(message)

    monkeypatch.setattr(engine4.loop, "run", broken)
    with pytest.raises(WorkerPoisoned, match="the worker restarts"):
        list(engine4.stream(engine4.prompt([], 0, "Hi."), FRAMES, 0, 0.9, 50))
    monkeypatch.undo()
    end = time.monotonic() + 5
    while engine4.batcher.busy and time.monotonic() < end:  # the request hears the error before its slot is freed
        time.sleep(0.01)
    assert engine4.batcher.busy == 0


def test_every_torch_call_of_the_engine_runs_on_its_model_thread(engine4, monkeypatch):
    """One thread owns the model: on the CPU a second thread's OpenMP team more than doubles a step's cost; on
    CUDA the current device and a graph's capture stream belong to a thread."""
    seen = set()

    def noting(fn):
        def run(*args, **kwargs):
            seen.add(threading.current_thread().name)
            return fn(*args, **kwargs)
        return run

    monkeypatch.setattr(engine4.loop, "run", noting(engine4.loop.run))
    monkeypatch.setattr(engine4.batcher, "embed", noting(engine4.batcher.embed))
    monkeypatch.setattr(engine4.processor, "apply_chat_template", noting(engine4.processor.apply_chat_template))
    joined(engine4.stream(engine4.prompt([], 0, "Hi."), 6, 0, 0.9, 50))
    assert seen == {"csm-model"}


def test_a_bfloat16_model_keeps_its_rotary_frequencies_in_float32(tmp_path):
    """Casting the whole model to bf16 rounded the rotary inverse frequencies too: positions drifted by ~1 radian
    per 1,000 on the fast-turning pairs. Loading with dtype= keeps them float32; so must our placement."""
    from transformers import CsmForConditionalGeneration

    from tts.engines import load_engine

    path = build_tiny_csm(str(tmp_path / "m"))
    reference = {n: b.clone() for n, b in CsmForConditionalGeneration.from_pretrained(path).named_buffers()
                 if n.endswith("inv_freq")}
    eng = load_engine("csm", make_settings(model_id=path, device="cpu", csm_dtype="bfloat16", csm_batch=1))
    try:
        assert next(eng.model.parameters()).dtype == torch.bfloat16
        buffers = {n: b for n, b in eng.model.named_buffers() if n.endswith("inv_freq")}
        assert len(buffers) == len(reference) >= 3  # backbone, depth decoder, codec
        for name, buf in buffers.items():
            assert buf.dtype == torch.float32 and torch.equal(buf, reference[name]), name
        assert len(joined(eng.stream(eng.prompt([], 0, "Hi."), 4, 0, 0.9, 50))) == 4 * 1920
    finally:
        eng.close()


def test_a_process_that_ran_the_engine_exits_cleanly(tmp_path):
    import subprocess
    import sys
    import textwrap

    path = build_tiny_csm(str(tmp_path / "m"))
    script = textwrap.dedent(f"""
        from tests.helpers import joined, make_settings
        from tts.engines import load_engine
        eng = load_engine("csm", make_settings(model_id={path!r}, device="cpu", csm_batch=2))
        print(len(joined(eng.stream(eng.prompt([], 0, "Hi."), 6, 0, 0.9, 50))))
    """)
    root = __file__.rsplit("/tests/", 1)[0]
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == str(6 * 1920) and "terminate called" not in done.stderr


def test_the_dtype_is_bfloat16_only_on_gpus_that_compute_in_it(monkeypatch):
    from tts.engines.csm import choose_dtype

    capability = {}
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device: capability[device])
    capability.update({"cuda": (7, 5), "cuda:1": (8, 0), "cuda:2": (9, 0)})  # T4; A100; H100
    assert choose_dtype("cuda") == torch.float32
    assert choose_dtype("cuda:1") == choose_dtype("cuda:2") == torch.bfloat16
    assert choose_dtype("cuda", "float16") == torch.float16 and choose_dtype("cpu") == torch.float32


@pytest.mark.parametrize("failure", ["capture", "compile"])
def test_a_failing_graph_capture_or_compilation_leaves_the_loop_eager_with_one_warning(tmp_path, monkeypatch, caplog,
                                                                                       failure):
    """The GPU path has never run on a GPU here: whatever goes wrong in capture or compilation at start, the worker
    starts, runs eagerly and says so once."""
    import tts.engines.csm as csm_module
    from tts.engines import load_engine
    from tts.engines.csm_loop import CudaGraphStep

    def broken(*args, **kwargs):
        raise RuntimeError("CUDA error: operation not permitted when stream is capturing")

    if failure == "capture":
        monkeypatch.setattr(csm_module, "graphs_possible", lambda device: True)
        monkeypatch.setattr(CudaGraphStep, "capture", broken)
        settings = {"csm_cuda_graphs": True}
    else:
        monkeypatch.setattr(torch, "compile", lambda fn, **kwargs: broken)
        settings = {"csm_compile": True}
    path = build_tiny_csm(str(tmp_path / "m"))
    eng = load_engine("csm", make_settings(model_id=path, device="cpu", csm_batch=2, **settings))
    try:
        warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and r.name.startswith("tts")]
        assert len(warnings) == 1 and "the frame loop runs eagerly" in warnings[0], warnings
        assert eng.loop.run == eng.loop.step_fn and not eng.cuda_graphs and not eng.compiled
        assert len(joined(eng.stream(eng.prompt([], 0, "Hi."), 5, 0, 0.9, 50))) == 5 * 1920
    finally:
        eng.close()


def test_a_step_failure_whose_cleanup_fails_too_ends_the_requests_and_the_thread_lives_on(engine4, monkeypatch):
    """The device fails in the step, and freeing the slots (a device write) fails as well: every request still
    gets its error (none waits forever), and the model thread serves the next request."""
    def broken(rows):
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    def release_fails(slot):
        raise RuntimeError("CUDA error: an illegal memory access was encountered")

    monkeypatch.setattr(engine4.loop, "run", broken)
    monkeypatch.setattr(engine4.loop, "release", release_fails)
    results = []

    def request(i):
        try:
            joined(engine4.stream(engine4.prompt([], i, "Hi."), FRAMES, i, 0.9, 50))
            results.append("audio")
        except Exception as e:  # noqa: BLE001 - what the request heard
            results.append(type(e).__name__)

    threads = [threading.Thread(target=request, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == ["WorkerPoisoned"] * 3 and not any(t.is_alive() for t in threads)
    monkeypatch.undo()
    end = time.monotonic() + 5
    while engine4.batcher.busy and time.monotonic() < end:  # the requests hear the error before slots are freed
        time.sleep(0.01)
    assert engine4.thread.alive and engine4.batcher.busy == 0
    assert len(joined(engine4.stream(engine4.prompt([], 0, "Again."), 5, 0, 0.9, 50))) == 5 * 1920


class StepCounter:
    """The batcher's frame steps per request (by its prompt), counted on the model thread (Batcher.on_step)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.steps: dict[int, int] = {}
        self.together = 0   # steps that ran more than one request

    def __call__(self, jobs):
        with self.lock:
            for job in jobs:
                key = id(job.payload.inputs)
                self.steps[key] = self.steps.get(key, 0) + 1
            self.together += len(jobs) > 1

    def of(self, inputs) -> int:
        return self.steps.get(id(inputs), 0)


def test_a_cancelled_token_stops_its_row_within_one_frame_step_and_its_batch_mate_sounds_as_alone(engine4,
                                                                                                   monkeypatch):
    """The job's cancel reaches the batch itself: after the cancel at most the frame step under way runs for the
    row (not the rest of its piece, PIECE_FRAMES steps), the job thread waiting for the next piece wakes with
    Cancelled, and the request beside it gets the codes it gets alone."""
    from tts import cancel
    from tts.engines.csm_schedule import FIRST_PIECE_FRAMES, PIECE_FRAMES

    eng = engine4
    mate = eng.prompt([], 1, "I stay to the end.")
    alone = joined(eng.stream(mate, 40, seed=5, temperature=0.9, top_k=50))
    doomed = eng.prompt([], 0, "A long sentence that is cut off.")
    counter = StepCounter()
    monkeypatch.setattr(eng.batcher, "on_step", counter)
    token, first_piece = cancel.CancelToken(), threading.Event()
    heard: dict = {}

    def cancelled_job():
        with cancel.running(token):
            pieces = eng.stream(doomed, 200, seed=3, temperature=0.9, top_k=50)
            heard["pieces"] = [next(pieces)]
            first_piece.set()
            try:
                heard["pieces"] += list(pieces)
            except cancel.Cancelled:
                heard["cancelled"] = True

    results = {}
    a = threading.Thread(target=cancelled_job)
    b = threading.Thread(target=lambda: results.__setitem__("mate", joined(eng.stream(mate, 40, seed=5,
                                                                                      temperature=0.9, top_k=50))))
    b.start()
    a.start()
    assert first_piece.wait(60)
    with counter.lock:  # no step ends between reading the count and the cancel
        at_cancel = counter.of(doomed)
        token.cancel()
    a.join(60)
    b.join(60)
    # woken by the cancel, not by a piece (at most one made before the cancel was already on its way)
    assert not a.is_alive() and heard.get("cancelled") and len(heard["pieces"]) <= 2
    assert at_cancel >= FIRST_PIECE_FRAMES and counter.together > 0  # it ran, beside its mate
    after = counter.of(doomed) - at_cancel
    assert after <= 1 < PIECE_FRAMES, f"{after} frame steps ran for the cancelled request after its cancel"
    assert np.array_equal(results["mate"], alone)
    assert eng.batcher.busy == 0


def test_a_ticket_cancelled_by_its_door_stops_the_csm_row_within_one_frame_step(engine4, monkeypatch, caplog):
    """End to end through the job runner: a door cancels the ticket after the first piece; the row stops within one
    frame step, the job ends with no more events and no error, and the job thread is free for the next job."""
    import asyncio

    from tts.doors.runner import Runner

    eng = engine4
    counter = StepCounter()
    monkeypatch.setattr(eng.batcher, "on_step", counter)
    inputs = eng.prompt([], 2, "Another long sentence the listener walks away from.")

    async def scenario():
        runner = Runner(threads=1, max_waiting=1)
        try:
            ticket = runner.submit(lambda: iter(eng.stream(inputs, 200, seed=7, temperature=0.9, top_k=50)))
            async for _ in ticket:
                with counter.lock:
                    at_cancel = counter.of(inputs)
                    ticket.cancel()
                break
            rest = [event async for event in ticket]
            short = eng.prompt([], 2, "Next.")
            follow = runner.submit(lambda: iter(eng.stream(short, 5, seed=7, temperature=0.9, top_k=50)))
            return at_cancel, rest, [event async for event in follow]
        finally:
            runner.close()

    at_cancel, rest, follow = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert len(rest) <= 1   # no error, no Done: at most a piece already on its way when the door cancelled
    assert counter.of(inputs) - at_cancel <= 1
    assert sum(len(p.samples) for p in follow) == 5 * 1920
    assert eng.batcher.busy == 0
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
