import platform

import numpy as np
import pytest

from lmbook import bench

linux = pytest.mark.skipif(platform.system() != "Linux", reason="reads /proc")


def allocate(count, kib):
    """count buffers of kib KiB each, all alive at once and written to."""
    buffers = [np.ones(kib * 1024 // 8) for _ in range(count)]
    return sum(float(b.sum()) for b in buffers)


@linux
def test_peak_memory_sees_a_large_buffer_and_not_a_small_one():
    assert 60 <= bench.peak_memory_mib(allocate, 1, 64 * 1024) < 80
    assert bench.peak_memory_mib(allocate, 1, 4) < 4


@linux
def test_peak_memory_sees_buffers_the_heap_would_reuse():
    every = [np.ones(96 * 128) for _ in range(800)]  # 96 KiB each, from glibc's heap
    survivors = every[1::2]  # noqa: F841 (alive, so the 400 freed buffers leave holes)
    del every
    # Without malloc_trim the call below fits into those resident holes and counts ~0 MiB.
    assert 30 <= bench.peak_memory_mib(allocate, 400, 96) < 50


def test_peak_memory_rejects_a_non_function():
    with pytest.raises(TypeError, match="function must be callable, got int"):
        bench.peak_memory_mib(3)


def test_saved_tensor_bytes_counts_what_autograd_keeps_once():
    import torch

    weight = torch.randn(8, 4, requires_grad=True)
    x = torch.randn(16, 8, requires_grad=True)
    # x @ weight saves x (512 bytes) and weight; tanh saves its output (16×4×4 = 256 bytes).
    assert bench.saved_tensor_bytes(lambda: torch.tanh(x @ weight)) == 512 + 128 + 256
    assert bench.saved_tensor_bytes(lambda: torch.tanh(x @ weight), exclude=[weight]) == 768
    with torch.no_grad():
        assert bench.saved_tensor_bytes(lambda: torch.tanh(x @ weight)) == 0


def test_saved_tensor_bytes_rejects_bad_input():
    with pytest.raises(TypeError, match="callable"):
        bench.saved_tensor_bytes(42)
    with pytest.raises(TypeError, match="tensors"):
        bench.saved_tensor_bytes(lambda: None, exclude=[1.0])
