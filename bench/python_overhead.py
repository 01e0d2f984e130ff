#!/usr/bin/python3
# Per-op overhead from Python, nerve against torch on the same calls: c = a + b of two 32x128 f32 tensors
# (forward only), and the same add with its backward (c.backward(g), inputs requiring grad). Prints one JSON line
# with the median microseconds per call over 7 rounds.
# Usage: PYTHONPATH=build/python /usr/bin/python3 bench/python_overhead.py --impl nerve|torch [--iters 20000]
import argparse
import json
import statistics
import time

ap = argparse.ArgumentParser()
ap.add_argument("--impl", choices=["nerve", "torch"], required=True)
ap.add_argument("--iters", type=int, default=20000)
ap.add_argument("--threads", type=int, default=2)
a = ap.parse_args()
if a.impl == "nerve":
    import nerve as lib
else:
    import torch as lib
lib.set_num_threads(a.threads)


def per_call(fn, n):
    rounds = []
    for _ in range(7):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        rounds.append((time.perf_counter() - t) / n * 1e6)
    return statistics.median(rounds)


x, y = lib.randn(32, 128), lib.randn(32, 128)
xg, yg = lib.randn(32, 128, requires_grad=True), lib.randn(32, 128, requires_grad=True)
g = lib.ones(32, 128)


def fwd():
    return x + y


def fwd_bwd():
    (xg + yg).backward(g)


for f in (fwd, fwd_bwd):  # warm-up
    for _ in range(1000):
        f()
print(json.dumps({"impl": a.impl, "add_us": per_call(fwd, a.iters), "add_fwd_bwd_us": per_call(fwd_bwd, a.iters // 4)}))
