# PyTorch peer of build/bench/bench_resnet: torchvision 0.14's resnet18(num_classes=10) with the small-input stem
# (conv1 = Conv2d(3, 64, 3, 1, 1, bias=False), maxpool = Identity) on synthetic 32x32x3 batches: training images/s
# (forward, cross-entropy, backward, SGD momentum 0.9, weight decay 5e-4) and inference images/s (eval, no_grad).
# Also prints the model's FLOPs per image: conv and linear multiply-adds counted as 2 FLOPs (BatchNorm, ReLU,
# the residual adds and pooling are left out); training = forward + input gradients + weight gradients, where
# the first conv needs no input gradient.
# Usage: /usr/bin/python3 bench/resnet_torch.py [--train-steps 10] [--infer-batches 10] [--batch 64] [--threads 2]
#        [--profile]   (the training steps' time per op to stderr, as bench_resnet's "profile")
import argparse
import json
import sys
import time

import torch
import torchvision

p = argparse.ArgumentParser()
p.add_argument("--train-steps", type=int, default=10)
p.add_argument("--infer-batches", type=int, default=10)
p.add_argument("--batch", type=int, default=64)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--profile", action="store_true")
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)

model = torchvision.models.resnet18(num_classes=10)
model.conv1 = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False)
model.maxpool = torch.nn.Identity()

# FLOPs per image, from the shapes of one forward
flops = {"fwd": 0, "first_conv": 0}
def count(m, inp, out):
    if isinstance(m, torch.nn.Conv2d):
        f = 2 * out[0].numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
    else:
        f = 2 * out[0].numel() * m.in_features
    flops["fwd"] += f
    if m is model.conv1:
        flops["first_conv"] = f
hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
with torch.no_grad():
    model.eval()
    model(torch.zeros(1, 3, 32, 32))
for h in hooks:
    h.remove()
train_flops = 3 * flops["fwd"] - flops["first_conv"]

x = torch.randn(a.batch, 3, 32, 32)
y = torch.randint(0, 10, (a.batch,))
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
loss_fn = torch.nn.CrossEntropyLoss()
def step():
    loss = loss_fn(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()

model.train()
step()  # warm-up
prof = torch.autograd.profiler.profile() if a.profile else None
if prof:
    prof.__enter__()
t0 = time.perf_counter()
for _ in range(a.train_steps):
    last = step()
train_s = time.perf_counter() - t0
if prof:
    prof.__exit__(None, None, None)
    print(f"PyTorch, {a.train_steps} training steps of batch {a.batch}:", file=sys.stderr)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=16), file=sys.stderr)

model.eval()
with torch.no_grad():
    model(x)
    t0 = time.perf_counter()
    for _ in range(a.infer_batches):
        model(x)
    infer_s = time.perf_counter() - t0
print(json.dumps({"train_images_per_second": a.batch * a.train_steps / train_s,
                  "infer_images_per_second": a.batch * a.infer_batches / infer_s, "batch": a.batch,
                  "threads": torch.get_num_threads(), "last_loss": last,
                  "fwd_flops_per_image": flops["fwd"], "train_flops_per_image": train_flops}))
