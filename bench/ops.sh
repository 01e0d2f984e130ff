#!/usr/bin/env bash
# Per-op overhead and matmul GFLOP/s, nerve vs PyTorch, alternating runs on the same machine; prints ratios.
# Usage: bash bench/ops.sh [rounds]   (needs a built tree: make build; and python3-torch)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
THREADS=2
source bench/torch_env.sh
tmp=$(mktemp -d)
for r in $(seq "$ROUNDS"); do
  NERVE_NUM_THREADS=$THREADS build/bench/bench_ops $THREADS >> "$tmp/nerve.jsonl"
  $TORCH_PY bench/ops_torch.py $THREADS >> "$tmp/torch.jsonl"
done
$TORCH_PY - "$tmp" <<'PY'
import json, sys, statistics, collections
d = sys.argv[1]
def load(f):
    m = collections.defaultdict(list)
    for line in open(f):
        j = json.loads(line); m[j["name"]].append(j)
    return m
n, t = load(d + "/nerve.jsonl"), load(d + "/torch.jsonl")
print(f"{'measurement':24} {'nerve':>12} {'pytorch':>12} {'ratio':>14}")
for k in n:
    nu = statistics.median(x["us"] for x in n[k]); tu = statistics.median(x["us"] for x in t[k])
    if "gflops" in n[k][0]:
        ng = statistics.median(x["gflops"] for x in n[k]); tg = statistics.median(x["gflops"] for x in t[k])
        print(f"{k:24} {ng:9.1f} GF {tg:9.1f} GF {ng/tg:8.2f}x GF/s")
    else:
        print(f"{k:24} {nu:9.2f} us {tu:9.2f} us {nu/tu:8.2f}x time")
PY
rm -rf "$tmp"
