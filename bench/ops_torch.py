# Per-op overhead and matmul throughput, PyTorch side (same measurements as bench_ops.cpp).
# Run with Debian's /usr/bin/python3 and OPENBLAS_CORETYPE=SkylakeX so its BLAS uses AVX-512 kernels.
import json, sys, time
import torch

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
torch.set_num_threads(threads)
torch.manual_seed(0)

def time_us(f, inner, reps=15):
    for _ in range(inner):
        f()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            f()
        ts.append((time.perf_counter() - t0) / inner * 1e6)
    ts.sort()
    return ts[len(ts) // 2]

a, b = torch.randn(32, 128), torch.randn(32, 128)
print(json.dumps({"name": "add_32x128_fwd", "us": time_us(lambda: a + b, 20000)}))
ag, bg = torch.randn(32, 128, requires_grad=True), torch.randn(32, 128, requires_grad=True)
g = torch.ones(32, 128)
def fb():
    c = ag + bg
    c.backward(g)
    ag.grad = None
    bg.grad = None
print(json.dumps({"name": "add_32x128_fwd_bwd", "us": time_us(fb, 5000)}))
shapes = [("mm_fwd_32x784x128", 32, 784, 128, False, True), ("mm_dx_32x128x784", 32, 128, 784, False, False),
          ("mm_dw_128x32x784", 128, 32, 784, True, False), ("mm_1024", 1024, 1024, 1024, False, False)]
for name, m, k, n, ta, tb in shapes:
    x = torch.randn(k, m).t() if ta else torch.randn(m, k)
    w = torch.randn(n, k).t() if tb else torch.randn(k, n)
    inner = 10 if m * n * k > 100000000 else 500
    us = time_us(lambda: torch.matmul(x, w), inner, 9)
    print(json.dumps({"name": name, "us": us, "gflops": 2.0 * m * n * k / us / 1e3}))
big = torch.randn(1024, 1024)
for name, f in [("tanh", torch.tanh), ("sigmoid", torch.sigmoid), ("exp", torch.exp), ("relu", torch.relu)]:
    print(json.dumps({"name": name + "_1M", "us": time_us(lambda: f(big), 20, 9)}))
