"""Measuring code: the peak memory of one call (chapter 5), the activations autograd
keeps (8).

Timing is left to ``time.perf_counter`` in the notebooks, where the loop is
short enough to read; memory needs operating-system help, which lives here.
"""

from __future__ import annotations

import ctypes
import platform
import re
from collections.abc import Callable, Iterable


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        return int(re.search(rf"{field}:\s+(\d+) kB", status.read()).group(1))


def _glibc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def peak_memory_mib(function: Callable, *args: object) -> float | None:
    """How much this process's peak resident memory grew while ``function(*args)``
    ran, in MiB.

    Linux with glibc only (it reads /proc/self/status and restarts the peak
    through /proc/self/clear_refs); elsewhere it runs nothing and returns None.
    Freed buffers stay in glibc's heap, resident, and a new buffer that reuses
    them would go unseen; ``malloc_trim(0)`` first hands their pages back to the
    system, so that every page the call writes to counts.
    """
    if not callable(function):
        raise TypeError(f"function must be callable, got {type(function).__name__}")
    libc = _glibc() if platform.system() == "Linux" else None
    if libc is None:
        return None
    libc.malloc_trim(0)
    before = _status_kib("VmRSS")
    with open("/proc/self/clear_refs", "w") as reset:
        reset.write("5")  # the peak (VmHWM) restarts from the current size
    function(*args)
    return (_status_kib("VmHWM") - before) / 1024


def saved_tensor_bytes(
    function: Callable, *args: object, exclude: Iterable = ()
) -> int:
    """Bytes of the tensors autograd saves for the backward pass while
    ``function(*args)`` runs.

    Each storage counts once, however many views of it are saved; tensors sharing
    storage with one in ``exclude`` (typically the model's parameters) are left out.
    This is the activation memory of chapter 8.7, counted exactly through
    ``torch.autograd.graph.saved_tensors_hooks``.
    """
    import torch

    if not callable(function):
        raise TypeError(f"function must be callable, got {type(function).__name__}")
    excluded = set()
    for tensor in exclude:
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"exclude must hold tensors, got a {type(tensor).__name__}")
        excluded.add(tensor.untyped_storage().data_ptr())
    saved: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in excluded:
            saved[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        function(*args)
    return sum(saved.values())
