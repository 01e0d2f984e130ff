"""nn.Module subclassed in Python: registration by attribute, parameters, state_dict, train/eval; a model trained
with nerve.optim and nerve.utils.data to a stated accuracy."""
import os

import numpy as np
import pytest

import nerve
import nerve.nn as nn
import nerve.nn.functional as F
from nerve.utils.data import DataLoader, Dataset, TensorDataset


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(2, 16)
        self.drop = nn.Dropout(0.1)
        self.fc2 = nn.Linear(16, 2)
        self.scale = nn.Parameter(nerve.ones(1))

    def forward(self, x):
        return self.fc2(self.drop(nerve.tanh(self.fc1(x)))) * self.scale


def two_moons(n=400):
    rng = np.random.default_rng(0)
    t = rng.uniform(0, np.pi, n)
    lab = rng.integers(0, 2, n)
    x = np.stack([np.cos(t) + lab * 1.0, np.sin(t) * (1 - 2 * lab) + lab * 0.5], 1) + rng.normal(0, 0.1, (n, 2))
    return x.astype(np.float32), lab.astype(np.int64)


def test_registration_and_state_dict():
    m = MLP()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["scale", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert sum(p.numel() for p in m.parameters()) == 2 * 16 + 16 + 16 * 2 + 2 + 1
    sd = m.state_dict()
    assert list(sd) == names and sd["fc1.weight"].shape == (16, 2)
    m2 = MLP()
    m2.load_state_dict(sd)
    x = nerve.randn(5, 2)
    m.eval(), m2.eval()
    np.testing.assert_allclose(m(x).detach().numpy(), m2(x).detach().numpy())
    assert not m.training and not m.fc1.training and not m.drop.training
    m.train()
    assert m.drop.training
    with pytest.raises(nerve.Error, match="missing"):
        m2.load_state_dict({"fc1.weight": sd["fc1.weight"]})
    assert "fc1" in repr(m) and "Linear" in repr(m)


def test_python_module_trains_to_accuracy():
    x, y = two_moons()
    model = MLP()
    opt = nerve.optim.Adam(model.parameters(), lr=0.02)
    loader = DataLoader(TensorDataset(nerve.tensor(x), nerve.tensor(y)), batch_size=32, shuffle=True)
    sched = nerve.optim.lr_scheduler.StepLR(opt, step_size=20, gamma=0.5)
    for epoch in range(40):
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    model.eval()
    with nerve.no_grad():
        acc = (model(nerve.tensor(x)).argmax(dim=1) == nerve.tensor(y)).float().mean().item()
    assert acc > 0.95, acc  # two moons with noise 0.1: a 16-unit MLP separates them
    assert opt.param_groups[0]["lr"] == pytest.approx(0.02 * 0.25)


def test_optimizers_step_like_formulas():
    for name, kw in (("SGD", dict(lr=0.1)), ("Adam", dict(lr=0.1)), ("AdamW", dict(lr=0.1)),
                     ("RMSprop", dict(lr=0.1))):
        w = nn.Parameter(nerve.tensor([1.0, -2.0]))
        opt = getattr(nerve.optim, name)([w], **kw)
        (w * w).sum().backward()
        opt.step()
        if name == "SGD":
            np.testing.assert_allclose(w.detach().numpy(), [1 - 0.2, -2 + 0.4], rtol=1e-6)
        elif name == "Adam":  # the first Adam step moves each weight by lr against its gradient's sign
            np.testing.assert_allclose(w.detach().numpy(), [0.9, -1.9], rtol=1e-5)
        assert abs(w.detach().numpy()[0]) < 1.0


def test_dataset_subclass_and_loader():
    class Squares(Dataset):
        def __len__(self):
            return 10

        def __getitem__(self, i):
            return nerve.tensor([float(i)]), i * i

    batches = list(DataLoader(Squares(), batch_size=4))
    assert len(batches) == 3
    xb, yb = batches[0]
    assert xb.shape == (4, 1) and yb.tolist() == [0, 1, 4, 9]
    assert len(DataLoader(Squares(), batch_size=4, drop_last=True)) == 2


def test_builtin_modules_shapes():
    x = nerve.randn(2, 5, 8)
    out, (h, c) = nn.LSTM(8, 16, batch_first=True)(x)
    assert out.shape == (2, 5, 16) and h.shape == (1, 2, 16)
    out, h = nn.GRU(8, 4)(x)
    assert out.shape == (2, 5, 4)
    assert nn.Embedding(10, 3)(nerve.tensor([[1, 2]])).shape == (1, 2, 3)
    img = nerve.randn(2, 3, 8, 8)
    seq = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(64, 10))
    assert seq(img).shape == (2, 10)
    assert [n for n, _ in seq.named_buffers()][:2] == ["1.running_mean", "1.running_var"]
    assert nn.LayerNorm(8)(x).shape == x.shape


def test_param_groups_and_schedulers():
    a, b = nn.Parameter(nerve.ones(2)), nn.Parameter(nerve.ones(2))
    opt = nerve.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    (a.sum() + b.sum()).backward()
    opt.step()
    np.testing.assert_allclose(a.detach().numpy(), [0.9, 0.9])
    np.testing.assert_allclose(b.detach().numpy(), [0.5, 0.5])
    s = nerve.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5)
    s.step()
    assert s.get_last_lr() == pytest.approx([0.05, 0.25])
    opt.param_groups[0]["lr"] = 1.0
    assert opt.param_groups[0]["lr"] == 1.0


def test_clip_grad_and_dropout_modes():
    w = nn.Parameter(nerve.ones(4))
    (w * 3).sum().backward()
    norm = nn.utils.clip_grad_norm_([w], 1.0)
    assert norm.item() == pytest.approx(6.0)
    assert np.linalg.norm(w.grad.numpy()) == pytest.approx(1.0, rel=1e-5)
    x = nerve.ones(1000)
    y = F.dropout(x, 0.5, training=True)
    assert 300 < (y == 0).sum().item() < 700 and y.max().item() == 2.0
    assert (F.dropout(x, 0.5, training=False) == x).all().item()


def test_init_in_place():
    w = nerve.empty(64, 32)
    assert nn.init.xavier_uniform_(w) is not None
    bound = (6 / (64 + 32)) ** 0.5
    assert w.abs().max().item() <= bound and w.abs().max().item() > 0.5 * bound
    nn.init.constant_(w, 0.5)
    assert (w == 0.5).all().item()
    assert nn.init.calculate_gain("relu") == pytest.approx(2 ** 0.5)
    with pytest.raises(nerve.Error, match="nonlinearity"):
        nn.init.kaiming_uniform_(w, nonlinearity="swishy")


def test_save_and_load_state_dict(tmp_path):
    m = MLP()
    nerve.save(m.state_dict(), tmp_path / "m.safetensors")
    sd = nerve.load(tmp_path / "m.safetensors")
    assert list(sd) == list(m.state_dict())
    m2 = MLP()
    m2.load_state_dict(sd)
    np.testing.assert_array_equal(m2.fc1.weight.detach().numpy(), m.fc1.weight.detach().numpy())
    (tmp_path / "bad").write_bytes(b"\x01\x00\x00\x00\x00\x00\x00\x00{")
    with pytest.raises(nerve.Error):
        nerve.load(tmp_path / "bad")


def test_load_a_torch_checkpoint():
    # tests/io/make_torch_files.py wrote these with torch.save (no torch needed here): an MLP's state dict, an
    # input and torch's logits on it
    data = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "io", "data")
    sd = nerve.load(os.path.join(data, "mlp.pt"))
    assert list(sd) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"]
    expected = nerve.load(os.path.join(data, "mlp_expected.safetensors"))

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2, self.fc3 = nn.Linear(8, 16), nn.Linear(16, 16), nn.Linear(16, 4)

        def forward(self, x):
            return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))

    m = MLP()
    m.load_state_dict(sd)
    with nerve.no_grad():
        got = m(expected["x"]).numpy()
    np.testing.assert_allclose(got, expected["logits"].numpy(), rtol=1e-6, atol=1e-6)