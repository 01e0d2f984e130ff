#!/usr/bin/python3
"""PyTorch peer of bench/bench_attention.cpp: peak RSS and time of one forward + backward of causal attention
written out (torch 1.13 has no fused scaled_dot_product_attention), f32.
  /usr/bin/python3 bench/attention_torch.py [T=4096] [H=8] [D=64] [B=1]"""
import math
import resource
import sys
import time

import torch


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


T, H, D, B = [int(a) for a in sys.argv[1:]] + [4096, 8, 64, 1][len(sys.argv) - 1:]
torch.manual_seed(0)
q, k, v = [torch.randn(B, H, T, D, requires_grad=True) for _ in range(3)]
g = torch.randn(B, H, T, D)
base = peak_rss_mib()
t0 = time.perf_counter()
s = q @ k.transpose(-1, -2) / math.sqrt(D)
s = s.masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf"))
out = torch.softmax(s, -1) @ v
t1 = time.perf_counter()
(out * g).sum().backward()
t2 = time.perf_counter()
peak = peak_rss_mib()
print("torch %s explicit attention B=%d H=%d T=%d D=%d threads=%d: peak RSS %.0f MiB (inputs %.0f MiB, +%.0f MiB "
      "for forward+backward), forward %.3f s, backward %.3f s"
      % (torch.__version__, B, H, T, D, torch.get_num_threads(), peak, base, peak - base, t1 - t0, t2 - t1))
