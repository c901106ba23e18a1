"""The thread that owns an engine's torch work (tts/engines/model_thread.py)."""
import threading
import time

import pytest

from tts.engines.model_thread import ModelThread


class Pump:
    """Does `work` turns, recording the thread each ran on; fails at turn `fail_at`."""

    def __init__(self, work: int, fail_at: int = -1):
        self.work, self.fail_at, self.threads, self.failed = work, fail_at, [], []

    def has_work(self) -> bool:
        return self.work > 0

    def turn(self) -> None:
        self.threads.append(threading.current_thread())
        self.work -= 1
        if self.work == self.fail_at:
            raise RuntimeError("a bug in a turn")

    def fail_all(self, e) -> None:
        self.failed.append(e)


def wait_for(condition, timeout=5.0):
    end = time.monotonic() + timeout
    while not condition() and time.monotonic() < end:
        time.sleep(0.005)
    return condition()


def test_calls_run_on_the_thread_one_at_a_time_with_their_results_and_errors():
    t = ModelThread("test-model")
    try:
        seen = [t.call(threading.current_thread) for _ in range(3)]
        assert len(set(seen)) == 1 and seen[0] is not threading.current_thread() and seen[0].name == "test-model"
        assert t.call(lambda a, b=0: a + b, 2, b=3) == 5
        with pytest.raises(ZeroDivisionError):
            t.call(lambda: 1 / 0)
        assert t.call(lambda: t.call(lambda: "inline")) == "inline"  # a call from the thread itself runs at once
    finally:
        t.close()


def test_the_pump_turns_while_it_has_work_and_a_failing_turn_ends_its_requests_not_the_thread():
    t = ModelThread("test-model")
    try:
        pump = Pump(work=20, fail_at=10)
        t.attach(pump)
        assert wait_for(lambda: pump.work == 0)
        assert len(pump.threads) == 20 and {th.name for th in pump.threads} == {"test-model"}
        assert [str(e) for e in pump.failed] == ["a bug in a turn"]
        pump.work = 3
        t.wake()  # new work for an idle thread
        assert wait_for(lambda: pump.work == 0)
        assert t.call(lambda: "still serving") == "still serving"
    finally:
        t.close()


def test_close_stops_and_joins_the_thread_and_later_calls_fail():
    t = ModelThread("test-model")
    thread = t.call(threading.current_thread)
    t.close()
    assert not thread.is_alive()
    with pytest.raises(RuntimeError, match="closed"):
        t.call(lambda: None)


def test_a_cuda_device_is_made_current_on_the_thread_before_anything_runs(monkeypatch):
    """DEVICE=cuda:1: the thread's current device is cuda:1 (a CUDA graph captured elsewhere is empty)."""
    import torch

    made_current = []
    monkeypatch.setattr(torch.cuda, "set_device", lambda d: made_current.append((d, threading.current_thread().name)))
    t = ModelThread("test-model", device="cuda:1")
    try:
        assert t.call(lambda: list(made_current)) == [("cuda:1", "test-model")]
    finally:
        t.close()


def test_a_device_that_cannot_be_used_fails_every_call_instead_of_hanging(monkeypatch):
    import torch

    def refuse(device):
        raise RuntimeError(f"invalid device ordinal {device}")

    monkeypatch.setattr(torch.cuda, "set_device", refuse)
    t = ModelThread("test-model", device="cuda:7")
    try:
        with pytest.raises(RuntimeError, match="invalid device ordinal"):
            t.call(lambda: None)
    finally:
        t.close()
