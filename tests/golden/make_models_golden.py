#!/usr/bin/python3
"""Golden logits of torchvision 0.14's models for tests/nn/test_models.cpp.

No state dict is committed (resnet18 alone is 45 MB): every parameter and buffer of the torchvision model is
replaced by a formula both sides compute from the tensor's state-dict key, so nerve's model, filled by its own
state-dict keys, must give the same logits (and any key that differs from torchvision's fails to fill). The
formula (fill() below, test_models.cpp's fill_formula), made of exact IEEE operations only (multiply, add,
floor), so both sides compute the same bits:
  p = (sum over the key's characters c_j of (j + 1) * ord(c_j)) % 997 / 97,  u_i = frac(0.6180339887498949 i + p) - 0.5
  running_var: 1 + u_i   running_mean: 0.2 u_i   other 1-D weight: 1 + 0.4 u_i   other 1-D bias: 0.2 u_i
  dims >= 2: u_i * sqrt(24 / fan_in) (variance 2 / fan_in, He's), fan_in = numel / size(0)
  num_batches_tracked: left at 0
The input (2, C, 32, 32), i its row-major index: x[b, c, h, w] = 2 (frac(0.7548776662466927 i) - 0.5) (1 + b)
+ b (h - 15.5) / 16 (the two samples differ in scale and by a ramp, which global average pooling keeps).
Also writes tests/golden/mobilenet_v2_head.pt (a torchvision state dict for io::load_torch).
Run: /usr/bin/python3 tests/golden/make_models_golden.py (writes tests/golden/models_golden.txt)
"""
import collections
import math
import os

import torch
import torchvision

torch.set_num_threads(1)


def phase(key):
    return sum((j + 1) * ord(c) for j, c in enumerate(key)) % 997 / 97.0


def frac(x):
    return x - torch.floor(x)


def fill(model):
    sd = model.state_dict()
    with torch.no_grad():
        for key, t in sd.items():
            if key.endswith("num_batches_tracked"):
                continue
            n = t.numel()
            u = frac(0.6180339887498949 * torch.arange(n, dtype=torch.float64) + phase(key)) - 0.5
            if key.endswith("running_var"):
                v = 1 + u
            elif key.endswith("running_mean"):
                v = 0.2 * u
            elif t.dim() == 1 and key.endswith("weight"):
                v = 1 + 0.4 * u
            elif t.dim() == 1:
                v = 0.2 * u
            else:
                v = u * math.sqrt(24.0 / (n // t.shape[0]))
            t.copy_(v.reshape(t.shape).to(t.dtype))


def make_input(c, batch=2, hw=32):
    n = batch * c * hw * hw
    i = torch.arange(n, dtype=torch.float64)
    x = (2 * (frac(0.7548776662466927 * i) - 0.5)).reshape(batch, c, hw, hw)
    b = torch.arange(batch, dtype=torch.float64).reshape(batch, 1, 1, 1)
    h = torch.arange(hw, dtype=torch.float64).reshape(1, 1, hw, 1)
    return (x * (1 + b) + b * (h - 15.5) / 16).float()


def emit(name, t):
    v = t.detach().double().flatten().tolist()
    # a tensor record of the golden format (tests/golden/golden_reader.h), flattened: t NAME f32 1 N VALUES...
    print("t", name, "f32 1", len(v), " ".join("%.9g" % x for x in v), file=OUT)


def small_resnet18(num_classes, in_channels):
    m = torchvision.models.resnet18(num_classes=num_classes)
    m.conv1 = torch.nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False)
    m.maxpool = torch.nn.Identity()
    return m


def main():
    torch.manual_seed(0)
    models = [
        ("resnet18", torchvision.models.resnet18(num_classes=10), 3),
        ("resnet50", torchvision.models.resnet50(num_classes=10), 3),
        ("vgg11_bn", torchvision.models.vgg11_bn(num_classes=10), 3),
        ("mobilenet_v2", torchvision.models.mobilenet_v2(num_classes=10), 3),
        ("resnet18_small_gray", small_resnet18(10, 1), 1),
    ]
    for name, m, c in models:
        keys = list(m.state_dict().keys())
        print("keys", name, len(keys), " ".join(keys), file=OUT)  # a string list record: keys NAME N S1 .. SN
        fill(m)
        m.eval()
        with torch.no_grad():
            emit(name + "_eval", m(make_input(c)))
            if name == "vgg11_bn":  # its logits hardly depend on the input: check the features too
                emit(name + "_features", m.features(make_input(c)))
    # train mode: batch statistics, and the running statistics they update
    m = small_resnet18(10, 3)
    fill(m)
    m.train()
    with torch.no_grad():
        emit("resnet18_small_train", m(make_input(3)))
    emit("resnet18_small_train_bn1_running_mean", m.bn1.running_mean)
    emit("resnet18_small_train_layer4_1_bn2_running_var", m.layer4[1].bn2.running_var)
    save_mobilenet_head(os.path.join(os.path.dirname(os.path.abspath(__file__)), "mobilenet_v2_head.pt"))


def save_mobilenet_head(path):
    """torch.save of the state dict entries of mobilenet_v2's features.0 to features.3 (torchvision's own init,
    seed 0; 60 kB), and the eval-mode output of those four blocks on make_input(3, 1, 16)."""
    torch.manual_seed(0)
    m = torchvision.models.mobilenet_v2(num_classes=10)
    keep = collections.OrderedDict((k, v) for k, v in m.state_dict().items() if k.split(".")[:2] in
                                   (["features", "0"], ["features", "1"], ["features", "2"], ["features", "3"]))
    torch.save(keep, path)
    m.eval()
    with torch.no_grad():
        emit("mobilenet_v2_head_saved", m.features[:4](make_input(3, 1, 16)))


OUT = None

if __name__ == "__main__":
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models_golden.txt")
    with open(path, "w") as OUT:
        main()
