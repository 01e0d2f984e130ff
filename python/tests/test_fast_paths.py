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


def test_inplace_operators_write_in_place_as_torch():
    a = nerve.tensor([[1.0, 2.0], [3.0, 4.0]])
    alias, row = a, a[1]
    ptr = a.data_ptr()
    a += nerve.tensor([10.0, 20.0])  # broadcast b
    assert a is alias and a.data_ptr() == ptr
    assert row.tolist() == [13.0, 24.0]  # a view of a sees the write
    a -= 1
    a *= nerve.tensor([[2.0], [0.5]])
    assert a.tolist() == [[20.0, 42.0], [6.0, 11.5]]
    v = a._version
    a *= 2.0
    assert a._version > v
    i = nerve.tensor([1, 2])
    i += 3
    assert i.dtype == nerve.int64 and i.tolist() == [4, 5]
    i += 0.5  # an int tensor and a float: out of place, a float result (torch would refuse)
    assert i.dtype == nerve.float32 and i.tolist() == [4.5, 5.5]
    with pytest.raises(nerve.Error, match="add_"):
        b = nerve.zeros(2)
        b += nerve.zeros(3, 2)  # the result would not fit b


def test_inplace_operators_keep_autograd_right():
    w = nerve.tensor([1.0, 2.0], requires_grad=True)
    h = w * 3.0
    h0 = h
    h += w  # recorded: out of place, h is rebound
    assert h is not h0
    h.sum().backward()
    assert w.grad.tolist() == [4.0, 4.0]
    with nerve.no_grad():  # an optimizer-style update: in place on the leaf
        before = w.data_ptr()
        w -= w.grad * 0.5
        assert w.data_ptr() == before
    assert w.tolist() == [-1.0, 0.0] and w.requires_grad and w.is_leaf


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "exp", "neg", "abs", "gelu", "silu"])
def test_unary_fast_path_matches_the_general_binding(name):
    x = nerve.tensor([[-1.5, 0.0, 0.25], [2.0, -0.5, 3.0]])
    got_method, got_function = getattr(x, name)(), getattr(nerve, name)(x)
    want = getattr(nerve.ops, name)(x)  # the registry's op by name, not the fast path
    np.testing.assert_array_equal(got_method.numpy(), want.numpy())
    np.testing.assert_array_equal(got_function.numpy(), want.numpy())
    assert getattr(nerve, name)(input=x).tolist() == want.tolist()  # keywords: the pybind11 binding
    # through autograd, as before
    w = nerve.tensor([0.5, -2.0, 1.0], requires_grad=True)
    getattr(w, name)().sum().backward()
    assert w.grad is not None and w.grad.shape == (3,)


def test_unary_fast_path_errors():
    with pytest.raises(TypeError):
        nerve.relu("not a tensor")
    with pytest.raises(TypeError):
        nerve.zeros(2).relu(1, 2)
    with pytest.raises(nerve.Error, match="undefined|relu"):
        nerve.Tensor().relu()
