"""Module.to / .double() / .float(): floating parameters, gradients and buffers converted in place (the same
Parameter objects, shared with the C++ layers), torch 1.13's argument forms; Tensor.to's forms."""
import numpy as np
import pytest

import nerve
import nerve.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.scale = nn.Parameter(nerve.tensor([2.0]))
        self.register_buffer("shift", nerve.tensor([0.5, -0.5]))
        self.register_buffer("count", nerve.tensor([7]))

    def forward(self, x):
        return self.fc(x) * self.scale + self.shift


def test_double_keeps_parameter_objects_and_values():
    m = Net()
    before = {n: (id(p), p.detach().numpy().copy()) for n, p in m.named_parameters()}
    assert m.double() is m
    for n, p in m.named_parameters():
        assert p.dtype == nerve.float64, n
        assert id(p) == before[n][0], n  # the same Parameter object (torch's param.data = ...)
        np.testing.assert_array_equal(p.detach().numpy(), before[n][1].astype(np.float64))
        assert p.requires_grad
    assert m.shift.dtype == nerve.float64
    assert m.count.dtype == nerve.int64  # integer buffers keep their dtype
    # the C++ Linear computes with the converted weights: hand formula in float64
    x = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.25]])
    y = m(nerve.tensor(x, dtype=nerve.float64))
    assert y.dtype == nerve.float64
    w, b = m.fc.weight.detach().numpy(), m.fc.bias.detach().numpy()
    np.testing.assert_allclose(y.detach().numpy(), (x @ w.T + b) * 2.0 + np.array([0.5, -0.5]), rtol=1e-14)
    assert m.float() is m
    assert m.fc.weight.dtype == nerve.float32 and m.shift.dtype == nerve.float32 and m.count.dtype == nerve.int64
    assert m(nerve.tensor(x, dtype=nerve.float32)).dtype == nerve.float32


def test_to_forms():
    m = Net()
    w = m.fc.weight
    assert m.to("cpu") is m and m.fc.weight.dtype == nerve.float32
    assert m.to(nerve.float64) is m and w.dtype == nerve.float64
    m.to(dtype=nerve.float32)
    assert w.dtype == nerve.float32
    m.to("cpu", nerve.float64)
    assert w.dtype == nerve.float64
    m.to(device="cpu", dtype=nerve.float32, non_blocking=False)
    assert w.dtype == nerve.float32
    m.to(nerve.zeros(1, dtype=nerve.float64))  # .to(tensor): its dtype and device
    assert w.dtype == nerve.float64 and m.scale.dtype == nerve.float64
    assert m.fc.weight is w
    with pytest.raises(TypeError, match="floating point"):
        m.to(nerve.int64)
    with pytest.raises(nerve.Error, match="unknown device 'cuda'"):
        m.to("cuda")
    with pytest.raises(TypeError):
        m.to(nerve.float64, "cpu", 3)


def test_gradients_are_converted_and_training_works_in_float64():
    m = Net()
    m(nerve.randn(4, 3)).sum().backward()
    g = m.fc.weight.grad
    assert g.dtype == nerve.float32
    m.double()
    assert m.fc.weight.grad.dtype == nerve.float64
    np.testing.assert_allclose(m.fc.weight.grad.numpy(), g.numpy().astype(np.float64))
    m.zero_grad()
    opt = nerve.optim.SGD(m.parameters(), lr=0.1)
    x = nerve.randn(8, 3, dtype=nerve.float64)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = (m(x) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert m.fc.weight.dtype == nerve.float64
    assert losses[-1] < losses[0] * 0.5


def test_batchnorm_buffers_stay_shared_with_the_cpp_layer():
    bn = nn.BatchNorm1d(3)
    mean = bn.running_mean
    bn.double()
    assert bn.running_mean is mean and mean.dtype == nerve.float64
    x = nerve.tensor(np.arange(12.0).reshape(4, 3), dtype=nerve.float64)
    bn(x)  # train mode: the C++ layer updates the running mean, which Python sees
    np.testing.assert_allclose(mean.numpy(), 0.1 * np.arange(12.0).reshape(4, 3).mean(0), rtol=1e-14)


def test_tensor_to_forms():
    x = nerve.tensor([1.5, -2.0])
    assert x.to(nerve.float32) is x or x.to(nerve.float32).data_ptr() == x.data_ptr()
    assert x.to(nerve.float64).dtype == nerve.float64
    assert x.to("cpu", nerve.float64).dtype == nerve.float64
    assert x.to(device="cpu", dtype=nerve.int64).tolist() == [1, -2]
    assert x.to(nerve.zeros(1, dtype=nerve.float64)).dtype == nerve.float64
    c = x.to(nerve.float32, copy=True)
    assert c.data_ptr() != x.data_ptr() and c.tolist() == x.tolist()
    assert x.to("meta").is_meta and x.to("meta").shape == (2,)
    with pytest.raises(nerve.Error, match="unknown device"):
        x.to("cuda")
    with pytest.raises(TypeError):
        x.to(3)


def test_data_swaps_in_place():
    p = nn.Parameter(nerve.tensor([1.0, 2.0]))
    p.data = nerve.tensor([3.0, 4.0, 5.0], dtype=nerve.float64)
    assert p.dtype == nerve.float64 and p.tolist() == [3.0, 4.0, 5.0] and p.requires_grad
    d = p.data
    assert not d.requires_grad and d.data_ptr() == p.data_ptr()


def _lstm_numpy(sd, x, layers, hidden):
    """PyTorch's LSTM (gates i, f, g, o; batch_first) in float64 numpy, from a state dict: the reference."""
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))
    out, hs, cs = x, [], []
    for k in range(layers):
        w_ih, w_hh = sd[f"weight_ih_l{k}"], sd[f"weight_hh_l{k}"]
        b = sd[f"bias_ih_l{k}"] + sd[f"bias_hh_l{k}"]
        h = np.zeros((x.shape[0], hidden))
        c = np.zeros((x.shape[0], hidden))
        ys = []
        for t in range(x.shape[1]):
            g = out[:, t] @ w_ih.T + h @ w_hh.T + b
            i, f, gg, o = sig(g[:, :hidden]), sig(g[:, hidden:2 * hidden]), np.tanh(g[:, 2 * hidden:3 * hidden]), sig(g[:, 3 * hidden:])
            c = f * c + i * gg
            h = o * np.tanh(c)
            ys.append(h)
        out = np.stack(ys, axis=1)
        hs.append(h)
        cs.append(c)
    return out, np.stack(hs), np.stack(cs)


def test_lstm_double_matches_a_float64_reference():
    m = nn.LSTM(4, 5, num_layers=2, batch_first=True)
    m.to(nerve.float64)
    sd = {k: v.detach().numpy() for k, v in m.state_dict().items()}
    assert all(v.dtype == np.float64 for v in sd.values())
    x = np.random.randn(3, 6, 4)
    y, (h, c) = m(nerve.tensor(x, dtype=nerve.float64))
    ry, rh, rc = _lstm_numpy(sd, x, 2, 5)
    assert y.dtype == nerve.float64
    np.testing.assert_allclose(y.detach().numpy(), ry, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h.detach().numpy(), rh, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(c.detach().numpy(), rc, rtol=1e-10, atol=1e-12)
