"""Counting host syncs on any device, CPU included: the operations that, on a GPU, make the host wait for the device.

On CUDA, torch.cuda.set_sync_debug_mode reports syncs; on the CPU nothing syncs, yet the same code would stall a
GPU. This counts the operations that would: reading a tensor's value on the host (.item(), bool(), int(), a Python
branch on a tensor), ops whose output shape depends on data (nonzero, masked_select, unique, ...), and copies to
host memory (.cpu(), .numpy(), .tolist()). `.to(device)` is not counted: on a CPU run it cannot tell a copy to the
host from a move to the tensor's own device (which modules do, e.g. rotary embeddings moving inv_freq)."""
from __future__ import annotations

import collections
import contextlib
from collections.abc import Iterator

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

_aten = torch.ops.aten
# Ops that need a value from the device on the host: a scalar read, or a result whose size depends on data.
_DISPATCH_SYNCS = {
    _aten._local_scalar_dense.default, _aten.nonzero.default, _aten.masked_select.default,
    _aten.is_nonzero.default, _aten.equal.default, _aten._unique2.default, _aten.unique_dim.default,
    _aten.unique_consecutive.default, _aten.repeat_interleave.Tensor,
}
_HOST_COPIES = {torch.Tensor.cpu, torch.Tensor.numpy, torch.Tensor.tolist}


class SyncCount:
    def __init__(self) -> None:
        self.by_op: collections.Counter = collections.Counter()

    @property
    def total(self) -> int:
        return sum(self.by_op.values())


class _Dispatch(TorchDispatchMode):
    def __init__(self, count: SyncCount):
        super().__init__()
        self.count = count

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in _DISPATCH_SYNCS:
            self.count.by_op[str(func.overloadpacket.__name__)] += 1
        return func(*args, **(kwargs or {}))


class _Function(TorchFunctionMode):
    def __init__(self, count: SyncCount):
        super().__init__()
        self.count = count

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in _HOST_COPIES:
            self.count.by_op[func.__name__] += 1
        return func(*args, **(kwargs or {}))


@contextlib.contextmanager
def count_syncs() -> Iterator[SyncCount]:
    """Counts, per op name, the host syncs of the code run inside (every thread's torch calls on this one)."""
    count = SyncCount()
    with _Function(count), _Dispatch(count):
        yield count
