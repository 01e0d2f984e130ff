"""PyTorch side of bench/io.sh: torch.save / torch.load of the same ~100M-parameter state dict as bench/bench_io.cpp
(a Sequential of Linear(1000, 1000) layers), one round per run, one JSON line of seconds.
  python3 bench/io_torch.py --dir DIR [--layers 100] [--keep]   (--keep leaves DIR/torch.pt for nerve's load_torch)
"""
import argparse
import json
import os
import time

import torch

p = argparse.ArgumentParser()
p.add_argument("--dir", default="/tmp")
p.add_argument("--layers", type=int, default=100)
p.add_argument("--keep", action="store_true")
a = p.parse_args()
torch.manual_seed(0)
src = torch.nn.Sequential(*[torch.nn.Linear(1000, 1000) for _ in range(a.layers)])
dst = torch.nn.Sequential(*[torch.nn.Linear(1000, 1000) for _ in range(a.layers)])
path = os.path.join(a.dir, "torch.pt")

t0 = time.perf_counter()
torch.save(src.state_dict(), path)
save_s = time.perf_counter() - t0

t0 = time.perf_counter()
sd = torch.load(path)
load_s = time.perf_counter() - t0
dst.load_state_dict(sd)
load_into_model_s = time.perf_counter() - t0
del sd
x = torch.ones(1, 1000)
same = bool(src(x).sum() == dst(x).sum())
print(json.dumps({"impl": "torch", "params": sum(p.numel() for p in src.parameters()), "bytes": os.path.getsize(path),
                  "save_s": round(save_s, 4), "load_s": round(load_s, 5),
                  "load_into_model_s": round(load_into_model_s, 4), "roundtrip_ok": same}))
if not a.keep:
    os.remove(path)
