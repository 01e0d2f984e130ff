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
pos, other, row = big.abs() + 0.5, torch.randn(1024, 1024), torch.randn(1024)
idx = torch.randint(0, 1024, (1024, 16))
mask = torch.randn(1024, 1024) > 0
F = torch.nn.functional
def fwd_bwd(f):
    def run():
        x = pos.detach().requires_grad_(True)
        f(x).sum().backward()
    return run
more = [("log_1M", lambda: torch.log(pos)), ("sqrt_1M", lambda: torch.sqrt(pos)), ("abs_1M", lambda: torch.abs(big)),
        ("gelu_1M", lambda: F.gelu(big)), ("pow2_1M", lambda: torch.pow(big, 2.0)),
        ("clamp_1M", lambda: torch.clamp(big, -0.5, 0.5)), ("leaky_relu_1M", lambda: F.leaky_relu(big, 0.1)),
        ("mul_1M", lambda: big * other), ("div_1M", lambda: big / pos), ("add_row_1M", lambda: big + row),
        ("sum_1M", lambda: big.sum()), ("sum_dim0_1M", lambda: big.sum(0)), ("sum_dim1_1M", lambda: big.sum(1)),
        ("max_1M", lambda: big.max()), ("amax_dim0_1M", lambda: big.amax(0)), ("argmax_dim1_1M", lambda: big.argmax(1)),
        ("softmax_1M", lambda: torch.softmax(big, 1)), ("log_softmax_1M", lambda: torch.log_softmax(big, 1)),
        ("mse_loss_1M", lambda: F.mse_loss(big, other)), ("gather_16k", lambda: torch.gather(big, 1, idx)),
        ("mul_fwd_bwd_1M", fwd_bwd(lambda x: x * x)), ("gelu_fwd_bwd_1M", fwd_bwd(F.gelu)),
        ("log_fwd_bwd_1M", fwd_bwd(torch.log)), ("softmax_fwd_bwd_1M", fwd_bwd(lambda x: torch.softmax(x, 1) * x)),
        ("transpose_copy_1M", lambda: big.t().contiguous()), ("fill_1M", lambda: other.fill_(0.5)),
        ("add_inplace_1M", lambda: other.add_(big, alpha=0.5)), ("gt_1M", lambda: torch.gt(big, other)),
        ("eq_scalar_1M", lambda: torch.eq(big, torch.zeros(()))), ("where_1M", lambda: torch.where(mask, big, other)),
        ("randn_1M", lambda: torch.randn(1024, 1024)), ("rand_1M", lambda: torch.rand(1024, 1024)),
        ("dropout_1M", lambda: F.dropout(big, 0.5, True))]
for name, f in more:
    print(json.dumps({"name": name, "us": time_us(f, 10, 9)}))
p1 = torch.randn(1024, 1024, requires_grad=True)
p1.grad = torch.randn(1024, 1024)
adam = torch.optim.Adam([p1])
print(json.dumps({"name": "adam_1M", "us": time_us(adam.step, 10, 9)}))
sgd = torch.optim.SGD([p1], lr=0.01, momentum=0.9)
print(json.dumps({"name": "sgd_momentum_1M", "us": time_us(sgd.step, 10, 9)}))
