"""numpy round trips: dtypes, strides, zero-copy sharing both ways, and ownership (the owner outlives its views)."""
import gc

import numpy as np
import pytest

import nerve

DTYPES = [(np.float32, nerve.float32), (np.float64, nerve.float64), (np.int64, nerve.int64),
          (np.int32, nerve.int32), (np.uint8, nerve.uint8), (np.bool_, nerve.bool)]


@pytest.mark.parametrize("npd,nd", DTYPES)
def test_round_trip_each_dtype(npd, nd):
    a = (np.arange(24).reshape(2, 3, 4) % 7).astype(npd)
    t = nerve.from_numpy(a)
    assert t.dtype == nd
    assert t.shape == (2, 3, 4)
    b = t.numpy()
    assert b.dtype == npd
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.asarray(t), a)  # the buffer protocol


def test_from_numpy_shares_memory_both_ways():
    a = np.zeros((3, 4), np.float32)
    t = nerve.from_numpy(a)
    a[1, 2] = 5.0
    assert t[1, 2].item() == 5.0
    t[0, 0] = 7.0
    assert a[0, 0] == 7.0
    b = t.numpy()
    assert np.shares_memory(a, b)


def test_strided_numpy_views():
    a = np.arange(60, dtype=np.float64).reshape(3, 4, 5)
    for v in (a[:, ::2, 1:], a.transpose(2, 0, 1), a[..., 3], a[::-1]):
        t = nerve.from_numpy(v)
        np.testing.assert_array_equal(t.numpy(), v)
        np.testing.assert_array_equal((t * 2).numpy(), v * 2)
    t = nerve.from_numpy(a.transpose(2, 0, 1))
    assert t.stride() == (1, 20, 5)  # a view with numpy's strides, no copy


def test_tensor_to_numpy_of_views():
    t = nerve.arange(24, dtype=nerve.float32).reshape(4, 6)
    v = t[1:, ::2].t()
    np.testing.assert_array_equal(v.numpy(), np.arange(24, dtype=np.float32).reshape(4, 6)[1:, ::2].T)


def test_owner_kept_alive():
    t = nerve.from_numpy(np.arange(1000, dtype=np.float32) * 3)  # the array has no other reference
    gc.collect()
    np.testing.assert_array_equal(t.numpy()[:3], [0, 3, 6])
    b = nerve.arange(10, dtype=nerve.float32).numpy()  # the tensor has no other reference
    gc.collect()
    np.testing.assert_array_equal(b, np.arange(10))


def test_tensor_constructor_dtypes():
    assert nerve.tensor([1.0, 2.0]).dtype == nerve.float32
    assert nerve.tensor([1, 2]).dtype == nerve.int64
    assert nerve.tensor([True, False]).dtype == nerve.bool
    assert nerve.tensor(np.zeros(3)).dtype == nerve.float64
    assert nerve.tensor([[1, 2]], dtype=nerve.float64).dtype == nerve.float64
    a = np.ones(3, np.float32)
    t = nerve.tensor(a)
    a[0] = 9
    assert t[0].item() == 1.0  # nerve.tensor copies
    assert nerve.tensor(2.5).item() == 2.5 and nerve.tensor(2.5).dim() == 0


def test_numpy_refuses_requires_grad():
    t = nerve.ones(3, requires_grad=True)
    with pytest.raises(ValueError, match="detach"):
        t.numpy()
    assert t.detach().numpy().sum() == 3


def test_creation_functions():
    assert nerve.zeros(2, 3).shape == (2, 3) and nerve.zeros((2, 3)).sum().item() == 0
    assert nerve.ones(4).sum().item() == 4
    assert nerve.full((2, 2), 3.0).numpy().tolist() == [[3, 3], [3, 3]]
    assert nerve.arange(5).tolist() == [0, 1, 2, 3, 4] and nerve.arange(5).dtype == nerve.int64
    assert nerve.arange(0, 1, 0.25).dtype == nerve.float32
    np.testing.assert_array_equal(nerve.eye(3).numpy(), np.eye(3))
    r = nerve.randn(1000)
    assert abs(r.mean().item()) < 0.1 and abs(r.std().item() - 1) < 0.1
    u = nerve.rand(1000)
    assert 0 <= u.min().item() and u.max().item() < 1
    x = nerve.randn(2, 3, dtype=nerve.float64)
    assert nerve.zeros_like(x).dtype == nerve.float64 and nerve.ones_like(x).shape == (2, 3)
    assert sorted(nerve.randperm(10).tolist()) == list(range(10))
