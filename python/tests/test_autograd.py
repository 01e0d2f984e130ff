"""Autograd from Python: requires_grad, backward, .grad, no_grad; values checked against hand derivatives and
torch-free numpy formulas."""
import numpy as np
import pytest

import nerve


def test_backward_of_a_composite():
    x = nerve.tensor([[1.0, -2.0], [3.0, 0.5]], requires_grad=True)
    w = nerve.tensor([[0.5], [-1.0]], requires_grad=True)
    y = (nerve.relu(x) @ w).sum()
    y.backward()
    xr = np.maximum(x.detach().numpy(), 0)
    np.testing.assert_allclose(w.grad.numpy(), xr.sum(0, keepdims=True).T)
    mask = (x.detach().numpy() > 0).astype(np.float32)
    np.testing.assert_allclose(x.grad.numpy(), mask * w.detach().numpy().T.repeat(2, 0))
    assert x.is_leaf and not y.is_leaf and y.grad_fn is not None


def test_grad_accumulates_and_none_before():
    x = nerve.ones(3, requires_grad=True)
    assert x.grad is None
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [5, 5, 5])
    x.grad = None
    assert x.grad is None


def test_no_grad_context_and_decorator():
    x = nerve.ones(2, requires_grad=True)
    with nerve.no_grad():
        y = x * 2
        assert not nerve.is_grad_enabled()
    assert nerve.is_grad_enabled()
    assert not y.requires_grad

    @nerve.no_grad()
    def f(t):
        return t * 3
    assert not f(x).requires_grad
    assert (x * 2).requires_grad


def test_gradient_of_mse_and_softmax_ce():
    logits = nerve.tensor([[2.0, 1.0, 0.1]], requires_grad=True)
    loss = nerve.nn.functional.cross_entropy(logits, nerve.tensor([0]))
    loss.backward()
    p = np.exp([2.0, 1.0, 0.1]) / np.exp([2.0, 1.0, 0.1]).sum()
    np.testing.assert_allclose(logits.grad.numpy()[0], p - [1, 0, 0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loss.item(), -np.log(p[0]), rtol=1e-5)


def test_indexing_is_differentiable():
    x = nerve.arange(6, dtype=nerve.float32).reshape(2, 3).requires_grad_()
    x[1, 1:].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 0, 0], [0, 1, 1]])


def test_backward_needs_a_gradient_for_non_scalars():
    x = nerve.ones(3, requires_grad=True)
    with pytest.raises(nerve.Error):
        (x * 2).backward()
    (x * 2).backward(nerve.ones(3))
    np.testing.assert_array_equal(x.grad.numpy(), [2, 2, 2])
