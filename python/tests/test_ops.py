"""Operators, functions and indexing against numpy."""
import numpy as np
import pytest

import nerve


def np_pair():
    a = np.random.randn(3, 4).astype(np.float32)
    b = np.random.randn(3, 4).astype(np.float32)
    return a, b, nerve.tensor(a), nerve.tensor(b)


def close(t, a, tol=1e-5):
    np.testing.assert_allclose(t.numpy() if isinstance(t, nerve.Tensor) else t, a, rtol=tol, atol=tol)


def test_binary_operators():
    a, b, ta, tb = np_pair()
    close(ta + tb, a + b)
    close(ta - tb, a - b)
    close(ta * tb, a * b)
    close(ta / tb, a / b, 1e-4)
    close(ta @ tb.T, a @ b.T)
    close(ta ** 2, a ** 2)
    close(abs(ta) ** tb, np.abs(a) ** b, 1e-4)
    close(-ta, -a)
    close(ta + 1, a + 1)
    close(2 - ta, 2 - a)
    close(3 * ta, 3 * a)
    close(1 / tb, 1 / b, 1e-4)
    close(2 ** ta, 2 ** a, 1e-4)
    close(ta + tb[0], a + b[0])  # broadcasting


def test_comparisons():
    a, b, ta, tb = np_pair()
    for t, n in ((ta < tb, a < b), (ta <= tb, a <= b), (ta > 0, a > 0), (ta >= tb, a >= b), (ta == ta, a == a),
                 (ta != tb, a != b)):
        assert t.dtype == nerve.bool
        np.testing.assert_array_equal(t.numpy(), n)


def test_integer_scalars_keep_dtype():
    t = nerve.arange(6)
    assert (t + 1).dtype == nerve.int64
    assert (t * 2).tolist() == [0, 2, 4, 6, 8, 10]
    assert (t * 0.5).dtype == nerve.float32
    assert (t / 2).dtype == nerve.float32


def test_functions_with_torch_names():
    a, b, ta, tb = np_pair()
    close(nerve.exp(ta), np.exp(a), 1e-5)
    close(nerve.relu(ta), np.maximum(a, 0))
    close(nerve.sigmoid(ta), 1 / (1 + np.exp(-a)), 1e-5)
    close(nerve.tanh(ta), np.tanh(a), 1e-5)
    close(ta.sum(), a.sum(), 1e-4)
    close(ta.sum(dim=1), a.sum(1), 1e-5)
    close(ta.sum(1, keepdim=True), a.sum(1, keepdims=True), 1e-5)
    close(nerve.mean(ta, dim=(0, 1)), a.mean(), 1e-5)
    close(ta.max(), a.max())
    v, i = ta.max(dim=1)
    close(v, a.max(1))
    np.testing.assert_array_equal(i.numpy(), a.argmax(1))
    np.testing.assert_array_equal(ta.argmax(dim=0).numpy(), a.argmax(0))
    close(nerve.softmax(ta, dim=1), np.exp(a) / np.exp(a).sum(1, keepdims=True), 1e-5)
    close(nerve.leaky_relu(ta, negative_slope=0.2), np.where(a > 0, a, 0.2 * a))
    close(ta.leaky_relu(0.3), np.where(a > 0, a, 0.3 * a))
    close(nerve.clamp(ta, min=-0.5, max=0.5), np.clip(a, -0.5, 0.5))
    close(nerve.where(ta > 0, ta, tb), np.where(a > 0, a, b))
    close(nerve.cat([ta, tb], dim=1), np.concatenate([a, b], 1))
    close(nerve.stack([ta, tb]), np.stack([a, b]))
    close(ta.reshape(4, 3), a.reshape(4, 3))
    close(ta.view(-1), a.reshape(-1))
    close(ta.permute(1, 0), a.T)
    close(ta.unsqueeze(0).squeeze(0), a)
    close(ta.var(dim=1), a.var(1, ddof=1), 1e-4)


def test_every_unary_table_op_is_bound():
    for op in nerve.registry():
        assert hasattr(nerve, op["name"]), op["name"]
    params = {o["name"]: o["params"] for o in nerve.registry()}
    assert params["leaky_relu"] == [("negative_slope", 0.01)]


def test_registry_ops_by_name():
    x = nerve.randn(2, 3)
    close(nerve.ops.sum_to(x.expand(4, 2, 3), shape=[2, 3]), 4 * x.numpy(), 1e-5)
    close(nerve.call_op("transpose", x, d0=0, d1=1), x.numpy().T)
    with pytest.raises(AttributeError):
        nerve.ops.no_such_op


def test_indexing_matches_numpy():
    a = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    t = nerve.tensor(a)
    for idx in [1, -1, (1, 2), (slice(None), 1), (slice(0, 2), slice(1, None, 2)), (Ellipsis, 3), (None, 1),
                (1, None, slice(None, None, 3)), (slice(None), None, Ellipsis, 0), slice(-2, None),
                (slice(10, 20),), (Ellipsis,)]:
        np.testing.assert_array_equal(t[idx].numpy(), a[idx], err_msg=str(idx))
    assert t[1, 2, 3].item() == a[1, 2, 3]


def test_tensor_indices():
    a = np.arange(20, dtype=np.float32).reshape(4, 5)
    t = nerve.tensor(a)
    np.testing.assert_array_equal(t[nerve.tensor([2, 0])].numpy(), a[[2, 0]])
    np.testing.assert_array_equal(t[:, nerve.tensor([[1, 4], [0, 0]])].numpy(), a[:, [[1, 4], [0, 0]]])
    np.testing.assert_array_equal(t[t > 7].numpy(), a[a > 7])
    m = np.array([True, False, True, False])
    np.testing.assert_array_equal(t[nerve.tensor(m)].numpy(), a[m])
    np.testing.assert_array_equal(t[[1, 3]].numpy(), a[[1, 3]])


def test_setitem():
    a = np.zeros((3, 4), np.float32)
    t = nerve.zeros(3, 4)
    t[1] = 2.0
    a[1] = 2.0
    t[:, 1:3] = nerve.ones(3, 2) * 5
    a[:, 1:3] = 5
    t[t > 4] = -1
    a[a > 4] = -1
    np.testing.assert_array_equal(t.numpy(), a)


def test_index_errors():
    t = nerve.zeros(2, 3)
    with pytest.raises(IndexError):
        t[2]
    with pytest.raises(IndexError):
        t[0, 0, 0]
    with pytest.raises(ValueError):
        t[::-1]


def test_item_repr_shape_dtype():
    t = nerve.tensor([[1.5, 2.0], [3.0, 4.0]])
    assert t.shape == (2, 2) and t.dtype == nerve.float32 and t.ndim == 2 and len(t) == 2
    assert repr(t) == "tensor([[1.5000, 2.0000],\n        [3.0000, 4.0000]])"
    assert repr(nerve.tensor([1, 2, 3])) == "tensor([1, 2, 3])"
    assert isinstance(t[0, 0].item(), float) and isinstance(nerve.tensor(3).item(), int)
    assert repr(nerve.float32) == "nerve.float32"
    assert [r.tolist() for r in t] == [[1.5, 2.0], [3.0, 4.0]]
    assert float(t[1, 1]) == 4.0 and int(nerve.tensor(7)) == 7


def test_repr_as_pytorch_prints():
    # the expected strings are what torch 1.13 prints for the same tensors (torch. replaced by nerve.)
    assert repr(nerve.tensor([[0.5247, 0.3064, -0.1876]])) == "tensor([[ 0.5247,  0.3064, -0.1876]])"
    assert repr(nerve.tensor([1e-5, 1.0, 3e5])) == "tensor([1.0000e-05, 1.0000e+00, 3.0000e+05])"
    assert repr(nerve.tensor([1.0, 2.0, -3.0])) == "tensor([ 1.,  2., -3.])"
    assert repr(nerve.tensor([True, False])) == "tensor([ True, False])"
    assert repr(nerve.ones(2, dtype=nerve.float64)) == "tensor([1., 1.], dtype=nerve.float64)"
    assert repr(nerve.ones(2, requires_grad=True)) == "tensor([1., 1.], requires_grad=True)"
    assert repr(nerve.zeros(0, 3)) == "tensor([], size=(0, 3))"
    assert repr(nerve.arange(2000).float()) == ("tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, "
                                                "1.9980e+03,\n        1.9990e+03])")
    assert repr(nerve.arange(8).reshape(2, 2, 2)) == ("tensor([[[0, 1],\n         [2, 3]],\n\n"
                                                      "        [[4, 5],\n         [6, 7]]])")


def test_max_returns_named_values_and_indices():
    x = nerve.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    r = x.max(dim=1)
    assert r.values.tolist() == [5.0, 7.0] and r.indices.tolist() == [1, 0]
    v, i = nerve.topk(x, 2)
    assert v.tolist() == [[5.0, 2.0], [7.0, 3.0]] and i.tolist() == [[1, 2], [0, 2]]
