# torch.matmul GFLOP/s at the nerve MLP GEMM shapes (labelled MxKxN), 1 and 2 threads; the "fair PyTorch peer".
# Usage: OPENBLAS_CORETYPE=SkylakeX OPENBLAS_NUM_THREADS=T python3 bench/torch_matmul.py T  (gemm_libs.sh does this;
# Debian torch calls OpenBLAS-pthread via libblas.so.3, whose pool set_num_threads does NOT control).
import statistics, sys, time, torch
cfg = torch.__config__.show()
opts = [o.strip() for o in cfg.replace("\n", ",").replace(":", ",").split(",")]
print("torch", torch.__version__, "|", " ".join(o for o in opts if o.split("=")[0] in ("BLAS_INFO", "USE_MKLDNN", "USE_OPENMP")))
print(" | ".join(l.strip() for l in torch.__config__.parallel_info().splitlines()[1:6]))
shapes = [("fwd NT 32x784x128", lambda: (torch.randn(32, 784), torch.randn(128, 784).t())),
          ("dX  NN 32x128x784", lambda: (torch.randn(32, 128), torch.randn(128, 784))),
          ("dW  TN 128x32x784", lambda: (torch.randn(32, 128).t(), torch.randn(32, 784))),
          ("NN 1024^3", lambda: (torch.randn(1024, 1024), torch.randn(1024, 1024)))]
for t in [int(a) for a in sys.argv[1:]] or [1, 2]:
    torch.set_num_threads(t)
    for name, mk in shapes:
        a, b = mk()
        flops = 2 * a.shape[0] * a.shape[1] * b.shape[1]
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 0.2: torch.matmul(a, b)
        ts, t0 = [], time.perf_counter()
        while len(ts) < 20 or time.perf_counter() - t0 < 1.0:
            s = time.perf_counter(); torch.matmul(a, b); ts.append(time.perf_counter() - s)
        med = statistics.median(ts)
        print(f"{'torch-' + torch.__version__:<26} t={t}  {name:<18} {flops / med * 1e-9:8.1f} GFLOP/s  median {med * 1e6:9.1f} us  n={len(ts)}")
