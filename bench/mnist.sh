#!/usr/bin/env bash
# The Keras MNIST program, nerve (examples/mnist_mlp) vs PyTorch (bench/mnist_torch.py), alternating runs on the
# same machine, at batch 32 and 128, 2 threads each. Prints each run's JSON and the ratios.
# Usage: bash bench/mnist.sh [epochs] [rounds]     (make build first; needs python3-torch)
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${1:-5}
ROUNDS=${2:-1}
THREADS=2
tmp=$(mktemp -d)
for r in $(seq "$ROUNDS"); do
  for bs in 32 128; do
    NERVE_NUM_THREADS=$THREADS build/examples/mnist_mlp --epochs "$EPOCHS" --batch-size $bs --json \
      | sed "s/^{/{\"who\": \"nerve\", \"bs\": $bs, /" | tee -a "$tmp/runs.jsonl"
    (source bench/torch_env.sh; $TORCH_PY bench/mnist_torch.py --epochs "$EPOCHS" --batch-size $bs --threads $THREADS) \
      | sed "s/^{/{\"who\": \"torch\", \"bs\": $bs, /" | tee -a "$tmp/runs.jsonl"
  done
done
/usr/bin/python3 - "$tmp/runs.jsonl" <<'PY'
import json, sys, statistics as st
runs = [json.loads(l) for l in open(sys.argv[1])]
def med(who, bs, key): return st.median(r[key] for r in runs if r["who"] == who and r["bs"] == bs)
print(f"\n{'metric':34} {'nerve':>10} {'pytorch':>10} {'ratio':>8}")
for bs in (32, 128):
    n, t = med("nerve", bs, "samples_per_second"), med("torch", bs, "samples_per_second")
    print(f"{'train samples/s, batch ' + str(bs):34} {n:10.0f} {t:10.0f} {n / t:7.2f}x")
    ns = [r["samples_per_second"] for r in runs if r["who"] == "nerve" and r["bs"] == bs]
    ts = [r["samples_per_second"] for r in runs if r["who"] == "torch" and r["bs"] == bs]
    print(f"{'  per-round ratios':34} " + ", ".join(f"{a / b:.2f}x" for a, b in sorted(zip(ns, ts), key=lambda p: p[0] / p[1])))
    n, t = med("nerve", bs, "test_accuracy"), med("torch", bs, "test_accuracy")
    print(f"{'test accuracy, batch ' + str(bs):34} {n:10.4f} {t:10.4f}")
n, t = med("nerve", 32, "infer_latency_us"), med("torch", 32, "infer_latency_us")
print(f"{'single-sample inference (us)':34} {n:10.2f} {t:10.2f} {n / t:7.2f}x")
n, t = med("nerve", 32, "peak_rss_mib"), med("torch", 32, "peak_rss_mib")
print(f"{'peak RSS (MiB)':34} {n:10.1f} {t:10.1f} {n / t:7.2f}x")
PY
rm -rf "$tmp"
