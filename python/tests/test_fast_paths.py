"""The fast paths of the binary operators (Tensor's number slots, the result wrapped without pybind11's cast, the
small contiguous f32 kernel call) against numpy and against the general strided path."""
import gc

import numpy as np
import pytest

import nerve


@pytest.mark.parametrize("op", ["+", "-", "*", "/"])
@pytest.mark.parametrize("shape", [(32, 128), (5,), (0, 3), (129, 130)])  # (129, 130): over the grain, threaded
def test_contiguous_and_strided_agree_with_numpy(op, shape):
    a = np.random.randn(*shape).astype(np.float32)
    b = np.random.randn(*shape).astype(np.float32) + 3.0
    f = {"+": lambda x, y: x + y, "-": lambda x, y: x - y, "*": lambda x, y: x * y, "/": lambda x, y: x / y}[op]
    want = f(a, b)
    fast = f(nerve.tensor(a), nerve.tensor(b))
    np.testing.assert_allclose(fast.numpy(), want, rtol=1e-6)
    if len(shape) == 2:  # transposed views: the strided row loop
        at, bt = nerve.tensor(a.T.copy()).t(), nerve.tensor(b.T.copy()).t()
        assert not at.is_contiguous()
        np.testing.assert_array_equal(f(at, bt).numpy(), fast.numpy())
    # broadcasting a row and a scalar still work
    if len(shape) == 2 and shape[0] > 0:
        np.testing.assert_allclose(f(nerve.tensor(a), nerve.tensor(b[:1])).numpy(), f(a, b[:1]), rtol=1e-6)


def test_results_are_ordinary_tensors():
    a, b = nerve.ones(2, 3), nerve.ones(2, 3)
    c = a + b
    assert type(c) is nerve.Tensor
    c.note = "attribute"  # dynamic attributes, as any Tensor
    assert c.note == "attribute"
    c[0, 0] = 5.0
    assert c.tolist() == [[5.0, 2.0, 2.0], [2.0, 2.0, 2.0]]
    assert (a @ b.t()).shape == (2, 2)
    p = nerve.nn.Parameter(nerve.ones(2, 3))  # a Python subclass on either side
    assert (p + a).tolist() == [[2.0] * 3] * 2 and (a * p).requires_grad


def test_no_leak_over_many_results():
    import resource
    a, b = nerve.randn(64, 64), nerve.randn(64, 64)
    for _ in range(2000):
        a + b
    gc.collect()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(20000):
        (a + b) * a - b
    gc.collect()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert after - before < 20 * 1024, f"peak RSS grew by {after - before} KiB over 20,000 iterations"
