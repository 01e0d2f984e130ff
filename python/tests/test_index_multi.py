"""Several tensor (advanced) indices in one expression, read and written, against numpy's results: integer tensors
broadcast together, mixed with slices, ints and None, bool masks, advanced indices separated by a slice (their dims
first), and autograd through the read."""
import numpy as np
import pytest

import nerve

A = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
I0 = np.array([[0, 1], [1, 0]])
I1 = np.array([2, -1])
IDX = np.array([3, 0, 3, 1])
MASK2 = np.array([True, False])
MASK3 = np.array([True, False, True])


def t(a):
    return nerve.tensor(a)


# each case: a function taking the array module's objects (numpy, or nerve tensors for the index arrays)
CASES = {
    "two int tensors broadcast": lambda x, c: x[c(I0), c(I1)],
    "three int tensors": lambda x, c: x[c(I0), c(I1), c(np.array([0, 3]))],
    "slice then two": lambda x, c: x[:, c(I1), c(np.array([1, 2]))],
    "columns and a row": lambda x, c: x[1, c(np.array([2, 0]))],
    "index then slice": lambda x, c: x[c(np.array([1, 0, 1])), 1:3],
    "mask then int": lambda x, c: x[c(MASK2), 0],
    "int then tensor adjacent": lambda x, c: x[:, 1, c(IDX)],
    "separated by a slice": lambda x, c: x[c(np.array([1, 0])), :, c(np.array([3, 2]))],
    "int and tensor separated": lambda x, c: x[:, c(np.array([0, 2])), :, 1],
    "tensor, int, tensor": lambda x, c: x[c(np.array([0, 1])), 2, c(np.array([1, 3]))],
    "ellipsis": lambda x, c: x[..., c(np.array([0, 3])), c(np.array([4, 1]))],
    "None in front": lambda x, c: x[None, c(np.array([1])), c(np.array([0, 2]))],
    "index and mask": lambda x, c: x[c(np.array([1, 0])), c(MASK3)],
    "2-d mask and index": lambda x, c: x[c(np.array([[True, False, True], [False, True, False]])), c(np.array([3]))],
    "negative indices": lambda x, c: x[c(np.array([-1, -2])), c(np.array([-3, 2]))],
    "empty index": lambda x, c: x[c(np.zeros(0, dtype=np.int64)), c(np.zeros(0, dtype=np.int64))],
    "step slice between": lambda x, c: x[c(np.array([1])), ::2, c(np.array([0, 3])), 1:4],
}


def as_index(a):  # numpy's side: the index arrays as they are
    return a


@pytest.mark.parametrize("name", list(CASES))
def test_read_matches_numpy(name):
    f = CASES[name]
    want = f(A, as_index)
    got = f(t(A), t)
    assert tuple(got.shape) == want.shape, name
    np.testing.assert_array_equal(got.numpy(), want)


@pytest.mark.parametrize("name", [n for n in CASES if n != "empty index"])
def test_write_matches_numpy(name):
    f = CASES[name]
    shape = f(A, as_index).shape
    rng = np.random.RandomState(1)
    for value in (rng.randn(*shape).astype(np.float32),          # full shape
                  rng.randn(*shape[-1:]).astype(np.float32),     # broadcast along the last dim
                  np.float32(-7.0)):
        want = A.copy()
        got = t(A.copy())
        # the same assignment through a setter written once for both
        def assign(x, c, v):
            key = _key_of(f, x, c)
            x[key] = v
        assign(want, as_index, value)
        assign(got, t, float(value) if np.ndim(value) == 0 else t(value))
        np.testing.assert_array_equal(got.numpy(), want, err_msg=name)


class _KeyRecorder:
    """Records the key a case indexes with (the cases are written as reads)."""

    def __init__(self, x):
        self.x = x
        self.key = None

    def __getitem__(self, key):
        self.key = key
        return self.x[key]


def _key_of(f, x, c):
    r = _KeyRecorder(x)
    f(r, c)
    return r.key


def test_write_broadcasts_a_value_and_keeps_other_elements():
    x = nerve.zeros(3, 4)
    x[nerve.tensor([0, 2]), nerve.tensor([1, 3])] = nerve.tensor([5.0, 6.0])
    want = np.zeros((3, 4), np.float32)
    want[[0, 2], [1, 3]] = [5.0, 6.0]
    np.testing.assert_array_equal(x.numpy(), want)
    x[:, nerve.tensor([0, 3])] = nerve.tensor([[1.0], [2.0], [3.0]])  # (3, 1) broadcast to (3, 2)
    want[:, [0, 3]] = [[1.0], [2.0], [3.0]]
    np.testing.assert_array_equal(x.numpy(), want)
    x[nerve.tensor([True, False, True]), 1] = 9
    want[[True, False, True], 1] = 9
    np.testing.assert_array_equal(x.numpy(), want)


def test_autograd_through_the_read():
    a = np.random.randn(3, 4, 5)
    x = nerve.tensor(a, requires_grad=True)
    i0, i2 = np.array([[0, 2], [2, 2]]), np.array([1, 4])
    y = x[nerve.tensor(i0), 1:3, nerve.tensor(i2)]  # separated: (2, 2) first, then the slice's 2
    w = np.random.randn(*y.shape)
    (y * nerve.tensor(w)).sum().backward()
    want = np.zeros_like(a)
    np.add.at(want, (i0[..., None], np.arange(1, 3)[None, None, :], i2[None, :, None]), w)
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-12)
    assert x.grad.dtype == nerve.float64


def test_errors():
    x = nerve.zeros(3, 4)
    with pytest.raises(IndexError, match="out of bounds for dimension 1 with size 4"):
        x[nerve.tensor([0, 1]), nerve.tensor([1, 4])]
    with pytest.raises(IndexError, match="out of bounds"):
        x[nerve.tensor([0]), 7]
    with pytest.raises(nerve.Error, match="index"):
        x[nerve.tensor([0, 1, 2]), nerve.tensor([0, 1])]  # shapes (3,) and (2,) do not broadcast
    with pytest.raises(nerve.Error, match="index_put"):
        x[nerve.tensor([0, 1]), nerve.tensor([0, 1])] = nerve.zeros(3)
    with pytest.raises(IndexError, match="too many indices"):
        x[nerve.tensor([0]), 0, 0]


def test_element_writes_go_straight_to_storage_as_numpy_does():
    # x[i0, i1] = v where every index names one element (the fast path): duplicates (the last one wins, as numpy),
    # negative indices, a transposed view writing through to its base, int and bool tensors, 100,000 positions
    rng = np.random.RandomState(3)
    base = np.zeros((40, 30), np.float32)
    x = nerve.tensor(base.copy())
    i0, i1 = rng.randint(-40, 40, 100000), rng.randint(-30, 30, 100000)
    v = rng.randn(100000).astype(np.float32)
    x[nerve.tensor(i0), nerve.tensor(i1)] = nerve.tensor(v)
    base[i0, i1] = v
    np.testing.assert_array_equal(x.numpy(), base)
    xt = nerve.tensor(base.copy())
    view = xt.t()  # (30, 40), not contiguous
    view[nerve.tensor([0, 29, 5]), nerve.tensor([1, -1, 1])] = nerve.tensor([7.0, 8.0, 9.0])
    want = base.copy()
    want.T[[0, 29, 5], [1, -1, 1]] = [7.0, 8.0, 9.0]
    np.testing.assert_array_equal(xt.numpy(), want)
    xi = nerve.zeros(4, 5, dtype=nerve.int64)
    xi[nerve.tensor([1, 3, 1]), nerve.tensor([2, 4, 2])] = 6.9  # a float into an int tensor truncates, as torch
    wi = np.zeros((4, 5), np.int64)
    wi[[1, 3], [2, 4]] = 6
    np.testing.assert_array_equal(xi.numpy(), wi)
    xb = nerve.zeros(3, 3, dtype=nerve.bool)
    xb[nerve.tensor([0, 2]), nerve.tensor([2, 0])] = 1
    assert xb.numpy().tolist() == [[False, False, True], [False, False, False], [True, False, False]]


def test_element_writes_under_no_grad_and_into_tensors_with_history():
    w = nerve.tensor(np.arange(12, dtype=np.float64).reshape(3, 4), requires_grad=True)
    with nerve.no_grad():  # weight surgery: written in place, outside autograd
        w[nerve.tensor([0, 2]), nerve.tensor([1, 3])] = 0.0
    want = np.arange(12, dtype=np.float64).reshape(3, 4)
    want[[0, 2], [1, 3]] = 0.0
    np.testing.assert_array_equal(w.detach().numpy(), want)
    assert w.requires_grad
    y = w * 2  # with history: in-place writes are not recorded by autograd, so they are refused, naming why
    with pytest.raises(nerve.Error, match="requires grad"):
        y[nerve.tensor([0, 2]), nerve.tensor([1, 3])] = 0.0
