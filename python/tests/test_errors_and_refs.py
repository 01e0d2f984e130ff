"""nerve's errors arrive as Python exceptions with nerve's message; no reference leaks over many iterations."""
import gc
import resource

import numpy as np
import pytest

import nerve


def test_error_message_and_type():
    with pytest.raises(nerve.Error, match=r"matmul") as e:
        nerve.randn(2, 3) @ nerve.randn(4, 5)
    assert isinstance(e.value, RuntimeError)
    with pytest.raises(RuntimeError, match="linear"):
        nerve.nn.Linear(784, 10)(nerve.randn(2, 783))
    with pytest.raises(nerve.Error, match="item"):
        nerve.ones(3).item()
    with pytest.raises(TypeError):
        nerve.from_numpy(np.zeros(3, np.complex64))
    with pytest.raises(FileNotFoundError, match="NERVE_MNIST_DIR"):
        nerve.keras.datasets.mnist.load_data("/nonexistent")


def rss_kib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() // 1024


def test_no_leak_over_10000_iterations():
    a = np.ones((32, 128), np.float32)
    w = nerve.randn(128, 16, requires_grad=True)

    def step():
        t = nerve.from_numpy(a)
        y = ((t + 1.0) @ w).relu()
        y.sum().backward()
        _ = y.detach().numpy()
        _ = t[1:, ::2]
        w.grad = None

    for _ in range(500):  # warm up the allocator's cache
        step()
    gc.collect()
    before = rss_kib()
    for _ in range(10000):
        step()
    gc.collect()
    grown = rss_kib() - before
    assert grown < 8 * 1024, f"RSS grew by {grown} KiB over 10000 iterations"
    import sys
    t = nerve.ones(4)
    n = sys.getrefcount(t)
    for _ in range(1000):
        t.numpy()
        np.asarray(t)
    assert sys.getrefcount(t) == n
