#!/usr/bin/env bash
# The small CNN on Fashion-MNIST (issue 15), nerve (examples/cnn_fashion) vs PyTorch (bench/cnn_torch.py),
# alternating runs on the same machine, batch 64, 2 threads each. Prints each run's JSON and the medians.
# Usage: bash bench/cnn.sh [epochs] [rounds] [train_limit]     (make build first; needs python3-torch)
#   train_limit: train on the first N of the 60,000 images (0: all); the test set is always the full 10,000.
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${1:-1}
ROUNDS=${2:-3}
LIMIT=${3:-0}
THREADS=2
BS=64
tmp=$(mktemp -d)
for r in $(seq "$ROUNDS"); do
  NERVE_NUM_THREADS=$THREADS build/examples/cnn_fashion --epochs "$EPOCHS" --batch-size $BS --train-limit "$LIMIT" \
    --threads $THREADS --json | sed "s/^{/{\"who\": \"nerve\", /" | tee -a "$tmp/runs.jsonl"
  (source bench/torch_env.sh; $TORCH_PY bench/cnn_torch.py --epochs "$EPOCHS" --batch-size $BS --train-limit "$LIMIT" \
    --threads $THREADS) | sed "s/^{/{\"who\": \"torch\", /" | tee -a "$tmp/runs.jsonl"
done
/usr/bin/python3 - "$tmp/runs.jsonl" <<'PY'
import json, sys, statistics as st
runs = [json.loads(l) for l in open(sys.argv[1])]
def med(who, key): return st.median(r[key] for r in runs if r["who"] == who)
print(f"\n{'metric (medians)':34} {'nerve':>10} {'pytorch':>10} {'ratio':>8}")
n, t = med("nerve", "images_per_second"), med("torch", "images_per_second")
print(f"{'train images/s, batch 64':34} {n:10.0f} {t:10.0f} {n / t:7.2f}x")
ns = [r["images_per_second"] for r in runs if r["who"] == "nerve"]
ts = [r["images_per_second"] for r in runs if r["who"] == "torch"]
print(f"{'  per-round ratios':34} " + ", ".join(f"{a / b:.2f}x" for a, b in zip(ns, ts)))
print(f"{'test accuracy':34} {med('nerve', 'test_accuracy'):10.4f} {med('torch', 'test_accuracy'):10.4f}")
n, t = med("nerve", "eval_images_per_second"), med("torch", "eval_images_per_second")
print(f"{'inference images/s, batch 500':34} {n:10.0f} {t:10.0f} {n / t:7.2f}x")
n, t = med("nerve", "infer_latency_us"), med("torch", "infer_latency_us")
print(f"{'single-image inference (us)':34} {n:10.2f} {t:10.2f} {n / t:7.3f}x")
n, t = med("nerve", "peak_rss_mib"), med("torch", "peak_rss_mib")
print(f"{'peak RSS (MiB)':34} {n:10.1f} {t:10.1f} {n / t:7.2f}x")
PY
rm -rf "$tmp"
