#!/usr/bin/python3
"""Writes tests/golden/nn_golden.txt: PyTorch reference values for nerve's nn layers, losses, optimizers and
schedulers. Run with Debian's /usr/bin/python3 (python3-torch):  /usr/bin/python3 tests/golden/make_nn_golden.py

Format: the golden format (tests/golden/golden_reader.h reads it), one tensor per line,
`t NAME DTYPE NDIM DIMS... VALUES...` (NDIM 0: a scalar).
"""
import math
import os

import torch
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
LINES = []


def put(name, t):
    t = torch.as_tensor(t).detach()
    if t.dtype in (torch.int64, torch.int32):
        dt, vals = "i64", [str(int(v)) for v in t.flatten().tolist()]
    elif t.dtype == torch.float32:
        dt, vals = "f32", ["%.9g" % v for v in t.flatten().tolist()]
    else:
        dt, vals = "f64", ["%.17g" % v for v in t.double().flatten().tolist()]
    # a tensor record of the golden format (tests/golden/golden_reader.h): t NAME DTYPE NDIM DIMS... VALUES...
    LINES.append(" ".join(["t", name, dt, str(t.dim())] + [str(s) for s in t.shape] + vals))


def loss_case(prefix, fn, x, *rest, reductions=("none", "mean", "sum"), **kw):
    """Forward value and input gradient for each reduction; 'none' uses a random upstream gradient."""
    put(prefix + ".x", x)
    for r in reductions:
        xx = x.clone().requires_grad_(True)
        out = fn(xx, *rest, reduction=r, **kw)
        up = torch.randn(out.shape) if r == "none" else torch.ones(())
        if r == "none":
            put(prefix + ".none.up", up)
        (out * up).sum().backward()
        put("%s.%s.out" % (prefix, r), out)
        put("%s.%s.gx" % (prefix, r), xx.grad)


# ---------------------------------------------------------------- regression losses
x = torch.randn(4, 5)
t = torch.randn(4, 5)
t[0, 0] = x[0, 0]  # a tie: l1's gradient is sign(0) = 0 there
put("reg.t", t)
loss_case("mse", F.mse_loss, x, t)
loss_case("l1", F.l1_loss, x, t)
loss_case("huber1", F.huber_loss, x, t, delta=1.0)
loss_case("huber05", F.huber_loss, x, t, delta=0.5)

# ---------------------------------------------------------------- binary losses
p = torch.sigmoid(torch.randn(4, 3))
bt = torch.rand(4, 3)
bw = torch.rand(3) + 0.5
put("bce.t", bt)
put("bce.w", bw)
loss_case("bce", F.binary_cross_entropy, p, bt)
loss_case("bcew", lambda a, b, reduction: F.binary_cross_entropy(a, b, weight=bw, reduction=reduction), p, bt)
pe = torch.tensor([0.0, 1.0, 0.5, 1e-50, 1.0 - 1e-12])
te = torch.tensor([1.0, 0.0, 0.3, 1.0, 0.0])
put("bce_edge.t", te)
loss_case("bce_edge", F.binary_cross_entropy, pe, te, reductions=("none",))
z = torch.randn(4, 3) * 3
z[0, 0], z[1, 1], z[2, 2] = 100.0, -100.0, 0.0
put("bcel.t", bt)
put("bcel.w", bw)
loss_case("bcel", F.binary_cross_entropy_with_logits, z, bt)
loss_case("bcelw", lambda a, b, reduction: F.binary_cross_entropy_with_logits(a, b, weight=bw, reduction=reduction),
          z, bt)

# ---------------------------------------------------------------- class-index losses
logits = torch.randn(6, 5) * 2
labels = torch.tensor([0, 3, 4, 1, 3, 2])
labels_ign = torch.tensor([0, 3, -100, 1, 3, 2])
cw = torch.rand(5) + 0.5
put("cls.labels", labels)
put("cls.labels_ign", labels_ign)
put("cls.w", cw)
logp = F.log_softmax(logits, 1)
loss_case("nll", F.nll_loss, logp, labels)
loss_case("nll_ign_w", lambda a, b, reduction: F.nll_loss(a, b, weight=cw, reduction=reduction), logp, labels_ign)
loss_case("nll_ign1", lambda a, b, reduction: F.nll_loss(a, b, ignore_index=1, reduction=reduction), logp, labels)
loss_case("ce", F.cross_entropy, logits, labels)
loss_case("ce_ign_w", lambda a, b, reduction: F.cross_entropy(a, b, weight=cw, reduction=reduction), logits, labels_ign)
loss_case("ce_ls", lambda a, b, reduction: F.cross_entropy(a, b, label_smoothing=0.1, reduction=reduction),
          logits, labels_ign)
loss_case("ce_ls_w", lambda a, b, reduction: F.cross_entropy(a, b, weight=cw, label_smoothing=0.2,
                                                             reduction=reduction), logits, labels_ign)
logits3 = torch.randn(2, 4, 3)
labels3 = torch.tensor([[0, 3, 1], [2, 2, 0]])
put("ce3.labels", labels3)
loss_case("ce3", lambda a, b, reduction: F.cross_entropy(a, b, label_smoothing=0.1, reduction=reduction),
          logits3, labels3)
loss_case("nll3", F.nll_loss, F.log_softmax(logits3, 1), labels3)
probs_t = torch.softmax(torch.randn(6, 5), 1)
put("ce_prob.t", probs_t)
loss_case("ce_prob", lambda a, b, reduction: F.cross_entropy(a, b, label_smoothing=0.2, reduction=reduction),
          logits, probs_t)
loss_case("ce_1d", F.cross_entropy, logits[0], labels[0], reductions=("none", "mean"))

# ---------------------------------------------------------------- Keras losses, written out as Keras computes them
EPS = 1e-7


def k_sparse_cce(y_pred, y_true, reduction):
    pp = (y_pred / y_pred.sum(-1, keepdim=True)).clamp(EPS, 1 - EPS)
    per = -pp.log().gather(-1, y_true.unsqueeze(-1)).squeeze(-1)
    return per if reduction == "none" else per.mean()


def k_cce(y_pred, y_true, reduction):
    pp = (y_pred / y_pred.sum(-1, keepdim=True)).clamp(EPS, 1 - EPS)
    per = -(y_true * pp.log()).sum(-1)
    return per if reduction == "none" else per.mean()


def k_bce(y_pred, y_true, reduction):
    pp = y_pred.clamp(EPS, 1 - EPS)
    per = (-(y_true * pp.log() + (1 - y_true) * (1 - pp).log())).mean(-1)
    return per if reduction == "none" else per.mean()


def k_mse(y_pred, y_true, reduction):
    per = ((y_pred - y_true) ** 2).mean(-1)
    return per if reduction == "none" else per.mean()


kp = torch.softmax(torch.randn(6, 5) * 3, 1)
kp[0] = torch.tensor([1.0, 0.0, 0.0, 0.0, 0.0])  # saturated row: the clip matters
klabels = torch.tensor([1, 0, 4, 2, 2, 3])
put("k.labels", klabels)
put("k.onehot", F.one_hot(klabels, 5).double())
loss_case("k_scce", k_sparse_cce, kp, klabels, reductions=("none", "mean"))
loss_case("k_cce", k_cce, kp, F.one_hot(klabels, 5).double(), reductions=("none", "mean"))
kb = torch.sigmoid(torch.randn(6, 3) * 4)
kb[0, 0] = 1.0
kbt = (torch.rand(6, 3) > 0.5).double()
put("k_bce.t", kbt)
loss_case("k_bce", k_bce, kb, kbt, reductions=("none", "mean"))
put("k_mse.t", t)
loss_case("k_mse", k_mse, x, t, reductions=("none", "mean"))

# ---------------------------------------------------------------- Linear and a small Sequential
lin = torch.nn.Linear(4, 3)
lx = torch.randn(5, 4, requires_grad=True)
ly = lin(lx)
lup = torch.randn(5, 3)
(ly * lup).sum().backward()
for k, v in [("w", lin.weight), ("b", lin.bias), ("x", lx), ("up", lup), ("y", ly), ("gx", lx.grad),
             ("gw", lin.weight.grad), ("gb", lin.bias.grad)]:
    put("linear." + k, v)

seq = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
sx = torch.randn(6, 4)
sy = torch.tensor([0, 2, 1, 1, 0, 2])
for k, v in seq.state_dict().items():
    put("seq." + k, v)
put("seq.x", sx)
put("seq.y", sy)
sloss = F.cross_entropy(seq(sx), sy)
sloss.backward()
put("seq.loss", sloss)
for k, v in seq.named_parameters():
    put("seq.grad." + k, v.grad)

# ---------------------------------------------------------------- optimizers: 5 steps on a tiny MLP (f64 and f32)
ox = torch.randn(8, 3)
oy = torch.randn(8, 2)
torch.manual_seed(1)
mlp0 = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
put("opt.x", ox)
put("opt.y", oy)
for k, v in mlp0.state_dict().items():
    put("opt.init." + k, v)

OPT_CASES = {
    "sgd": (torch.optim.SGD, dict(lr=0.1)),
    "sgd_momentum": (torch.optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.1)),
    "sgd_nesterov_wd": (torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    "adam": (torch.optim.Adam, dict(lr=0.01)),
    "adam_amsgrad_wd": (torch.optim.Adam, dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True)),
    "adamw": (torch.optim.AdamW, dict(lr=0.01, weight_decay=0.1)),
    "adamw_amsgrad": (torch.optim.AdamW, dict(lr=0.01, amsgrad=True)),
    "rmsprop": (torch.optim.RMSprop, dict(lr=0.01)),
    "rmsprop_centered": (torch.optim.RMSprop, dict(lr=0.01, alpha=0.9, centered=True, momentum=0.5,
                                                   weight_decay=0.1)),
    "adagrad": (torch.optim.Adagrad, dict(lr=0.1)),
    "adagrad_decay_wd": (torch.optim.Adagrad, dict(lr=0.1, lr_decay=0.1, weight_decay=0.1,
                                                   initial_accumulator_value=0.1)),
}


def run_opt(name, cls, kw, dtype, tag):
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)).to(dtype)
    model.load_state_dict(mlp0.state_dict())
    kw = dict(kw)
    if cls is not torch.optim.SGD:
        kw["foreach"] = False  # the single-tensor (documented) algorithm
    opt = cls(model.parameters(), **kw)
    for step in range(5):
        opt.zero_grad()
        loss = F.mse_loss(model(ox.to(dtype)), oy.to(dtype))
        loss.backward()
        put("%s.%s.loss%d" % (tag, name, step), loss)
        opt.step()
        for k, v in model.state_dict().items():
            put("%s.%s.step%d.%s" % (tag, name, step, k), v)


for name, (cls, kw) in OPT_CASES.items():
    run_opt(name, cls, kw, torch.float64, "opt")
for name in ("sgd_momentum", "adam", "adamw", "rmsprop_centered", "adagrad"):
    run_opt(name, *OPT_CASES[name], torch.float32, "opt32")

# ---------------------------------------------------------------- gradient clipping
for norm_type, tag in ((2.0, "l2"), (float("inf"), "inf"), (1.0, "l1")):
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    model.load_state_dict(mlp0.state_dict())
    F.mse_loss(model(ox), oy * 10).backward()
    total = torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5, norm_type=norm_type)
    put("clip.%s.total" % tag, total)
    for k, v in model.named_parameters():
        put("clip.%s.grad.%s" % (tag, k), v.grad)

# ---------------------------------------------------------------- schedulers: lr after construction and each step
def sched_case(name, make, steps=12, metrics=None):
    param = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([param], lr=0.1)
    sched = make(opt)
    lrs = [opt.param_groups[0]["lr"]]
    for i in range(steps):
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[i])
        lrs.append(opt.param_groups[0]["lr"])
    put("sched." + name, torch.tensor(lrs))


lrs_ = torch.optim.lr_scheduler
sched_case("step", lambda o: lrs_.StepLR(o, step_size=3, gamma=0.5))
sched_case("exp", lambda o: lrs_.ExponentialLR(o, gamma=0.9))
sched_case("cos", lambda o: lrs_.CosineAnnealingLR(o, T_max=5, eta_min=0.01), steps=16)
sched_case("linear", lambda o: lrs_.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=4))
sched_case("linear_default", lambda o: lrs_.LinearLR(o))
sched_case("linear_decay", lambda o: lrs_.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=6))
METRICS = [1.0, 0.95, 0.94, 0.93, 0.5, 0.49, 0.48, 0.47, 0.46, 0.45, 0.44, 0.43]
put("sched.plateau.metrics", torch.tensor(METRICS))
sched_case("plateau_min", lambda o: lrs_.ReduceLROnPlateau(o, mode="min", factor=0.5, patience=1, threshold=0.1,
                                                           cooldown=1, min_lr=0.01), metrics=METRICS)
sched_case("plateau_max_abs", lambda o: lrs_.ReduceLROnPlateau(o, mode="max", factor=0.3, patience=0,
                                                               threshold=0.005, threshold_mode="abs"),
           metrics=[-m for m in METRICS])

# ---------------------------------------------------------------- BCE with logits and pos_weight (added last, so
# the random values above stay as they were)
zp = torch.randn(4, 3) * 3
zp[0, 0], zp[1, 1] = 80.0, -80.0
tp = torch.rand(4, 3)
pw = torch.rand(3) * 3 + 0.2
put("bcelp.t", tp)
put("bcelp.pw", pw)
put("bcel.w2", bw)
loss_case("bcelp", lambda a, b, reduction: F.binary_cross_entropy_with_logits(a, b, pos_weight=pw, reduction=reduction),
          zp, tp)
loss_case("bcelpw", lambda a, b, reduction: F.binary_cross_entropy_with_logits(a, b, weight=bw, pos_weight=pw,
                                                                                  reduction=reduction), zp, tp)

# logits of exactly 0 with pos_weight: the gradient there is (1 - t) - (1 + (p - 1) t) / 2 (x = 0, t = 1, p = 2:
# -1), not the 1 - t that a composition of abs and relu (derivative 0 at 0) gives
z0 = torch.tensor([[0.0, 0.0, 1.5], [0.0, -2.0, 0.0]])
t0 = torch.tensor([[1.0, 0.3, 0.0], [0.0, 1.0, 0.5]])
pw0 = torch.tensor([2.0, 0.5, 3.0])
put("bcelp0.t", t0)
put("bcelp0.pw", pw0)
loss_case("bcelp0", lambda a, b, reduction: F.binary_cross_entropy_with_logits(a, b, pos_weight=pw0,
                                                                                  reduction=reduction), z0, t0)

# ---------------------------------------------------------------- a small CNN of the vision modules (own seed):
# parameters, one training-mode forward and backward (batch statistics, running-stat update), then eval mode
with torch.random.fork_rng():
    torch.manual_seed(15)
    nn = torch.nn
    cnn = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(4, 4, (3, 2), padding="same", groups=2, dilation=(1, 2)), nn.GroupNorm(2, 4),
                        nn.AvgPool2d(2, stride=1, padding=1, count_include_pad=False), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(4, 3), nn.LayerNorm(3), nn.BatchNorm1d(3))
    with torch.no_grad():  # non-trivial affine parameters and running stats
        for m in cnn:
            if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d, nn.GroupNorm, nn.LayerNorm)):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_()
            if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
    for k, v in cnn.state_dict().items():
        put("cnn." + k, v)
    xc = torch.randn(3, 2, 7, 6, requires_grad=True)
    put("cnn.x", xc)
    yc = cnn(xc)
    upc = torch.randn(yc.shape)
    put("cnn.up", upc)
    put("cnn.y", yc)
    (yc * upc).sum().backward()
    put("cnn.gx", xc.grad)
    for k, v in cnn.named_parameters():
        put("cnn.grad." + k, v.grad)
    for k, v in cnn.state_dict().items():
        if "running" in k or "num_batches" in k:
            put("cnn.after." + k, v)
    cnn.eval()
    put("cnn.y_eval", cnn(xc))

# ---------------------------------------------------------------- Conv1d + InstanceNorm1d and ConvTranspose2d +
# InstanceNorm2d (own seed): parameters, forward, input and parameter gradients
with torch.random.fork_rng():
    torch.manual_seed(16)
    nn = torch.nn
    c1 = nn.Sequential(nn.Conv1d(2, 4, 3, stride=2, padding=1, dilation=1), nn.InstanceNorm1d(4, affine=True),
                       nn.ReLU(), nn.Conv1d(4, 6, 2, padding="same", groups=2, bias=False))
    c2 = nn.Sequential(nn.ConvTranspose2d(2, 4, 3, stride=2, padding=1, output_padding=1, groups=2),
                       nn.InstanceNorm2d(4, affine=True), nn.Tanh(),
                       nn.ConvTranspose2d(4, 3, (2, 3), stride=(1, 2), dilation=(2, 1)), nn.InstanceNorm2d(3))
    for tag, net, shape in (("c1d", c1, (3, 2, 9)), ("ct2d", c2, (2, 2, 4, 5))):
        with torch.no_grad():
            for m in net:
                if isinstance(m, (nn.InstanceNorm1d, nn.InstanceNorm2d)) and m.affine:
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.normal_()
        for k, v in net.state_dict().items():
            put(tag + "." + k, v)
        xi = torch.randn(*shape, requires_grad=True)
        put(tag + ".x", xi)
        yi = net(xi)
        up = torch.randn(yi.shape)
        put(tag + ".up", up)
        put(tag + ".y", yi)
        (yi * up).sum().backward()
        put(tag + ".gx", xi.grad)
        for k, v in net.named_parameters():
            put(tag + ".grad." + k, v.grad)

# ---------------------------------------------------------------- InstanceNorm1d/2d with track_running_stats (own
# seed): two training forwards (running statistics after each), then eval() on a third input, and its gradients
with torch.random.fork_rng():
    torch.manual_seed(17)
    nn = torch.nn
    for tag, m, shape in (("inrs1d", nn.InstanceNorm1d(3, momentum=0.3, track_running_stats=True), (4, 3, 7)),
                          ("inrs2d", nn.InstanceNorm2d(4, affine=True, track_running_stats=True), (3, 4, 5, 6))):
        with torch.no_grad():
            if m.affine:
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_()
        for k, v in m.state_dict().items():
            put(tag + ".init." + k, v)
        m.train()
        for step in range(2):
            xs = torch.randn(*shape) * 2 + 0.5
            put(tag + ".x%d" % step, xs)
            put(tag + ".y%d" % step, m(xs).detach())
            put(tag + ".running_mean%d" % step, m.running_mean)
            put(tag + ".running_var%d" % step, m.running_var)
            put(tag + ".num_batches_tracked%d" % step, m.num_batches_tracked)
        m.eval()
        xe = torch.randn(*shape, requires_grad=True)
        put(tag + ".xe", xe)
        ye = m(xe)
        put(tag + ".ye", ye)
        up = torch.randn(ye.shape)
        put(tag + ".up", up)
        (ye * up).sum().backward()
        put(tag + ".gx", xe.grad)

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nn_golden.txt")
with open(out, "w") as f:
    f.write("# generated by tests/golden/make_nn_golden.py with torch %s; do not edit\n" % torch.__version__)
    f.write("\n".join(LINES) + "\n")
print("wrote %d tensors to %s" % (len(LINES), out))
