#!/usr/bin/env bash
# ResNet-18 (small-input stem: 3x3 stride-1 conv1, no max-pool) at 32x32x3, batch 64, 2 threads: nerve
# (build/bench/bench_resnet) vs torchvision 0.14's resnet18 with the same stem in PyTorch 1.13
# (bench/resnet_torch.py), alternating rounds on the same machine. Prints each run's JSON, the medians, the ratio
# of medians, and the fraction of this machine's f32 FMA peak (build/bench/bench_fma_peak, all threads) that
# each reaches, from the exact conv + linear FLOPs per image (resnet_torch.py counts them: 1.111 GFLOP forward,
# 3.329 GFLOP for a training step). The load average is printed with the figures: quote it with them.
# Usage: bash bench/resnet.sh [rounds=3] [train_steps=10] [infer_batches=10]   (make bench_resnet bench_fma_peak first)
# PROFILE=1 adds one profiled training run of each after the rounds: the time per op (convolutions forward and
# backward, batch norm, ReLU, the residual adds, the optimizer), nerve's table and PyTorch's.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
STEPS=${2:-10}
INFER=${3:-10}
THREADS=2
BS=64
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "load before: $(uptime)"
NERVE_NUM_THREADS=$THREADS build/bench/bench_fma_peak $THREADS | tee "$tmp/peak.txt"
for r in $(seq "$ROUNDS"); do
  NERVE_NUM_THREADS=$THREADS build/bench/bench_resnet "$STEPS" "$INFER" $BS | sed "s/^{/{\"who\": \"nerve\", /" \
    | tee -a "$tmp/runs.jsonl"
  (source bench/torch_env.sh; $TORCH_PY bench/resnet_torch.py --train-steps "$STEPS" --infer-batches "$INFER" \
    --batch $BS --threads $THREADS) | sed "s/^{/{\"who\": \"torch\", /" | tee -a "$tmp/runs.jsonl"
done
echo "load after: $(uptime)"
/usr/bin/python3 - "$tmp/runs.jsonl" "$tmp/peak.txt" <<'PY'
import json, re, sys, statistics as st
runs = [json.loads(l) for l in open(sys.argv[1])]
# the best vector width's all-thread figure (GFLOP/s) of bench_fma_peak
peak = max(float(m.group(1)) for m in re.finditer(r"^avx\S*\s+\S+\s+(\S+)", open(sys.argv[2]).read(), re.M))
flops = next(r for r in runs if r["who"] == "torch")
train_gf, fwd_gf = flops["train_flops_per_image"] / 1e9, flops["fwd_flops_per_image"] / 1e9
def med(who, key): return st.median(r[key] for r in runs if r["who"] == who)
print(f"\nResNet-18 small stem, 32x32x3, batch 64: {fwd_gf:.3f} GFLOP/image forward, {train_gf:.3f} training;"
      f" f32 FMA peak {peak:.1f} GFLOP/s")
print(f"{'metric (medians)':28} {'nerve':>9} {'pytorch':>9} {'ratio':>7} {'nerve %peak':>12} {'torch %peak':>12}")
for key, label, gf in (("train_images_per_second", "train images/s", train_gf),
                       ("infer_images_per_second", "inference images/s", fwd_gf)):
    n, t = med("nerve", key), med("torch", key)
    print(f"{label:28} {n:9.1f} {t:9.1f} {n / t:6.2f}x {100 * n * gf / peak:11.1f}% {100 * t * gf / peak:11.1f}%")
    ns = [r[key] for r in runs if r["who"] == "nerve"]
    ts = [r[key] for r in runs if r["who"] == "torch"]
    print(f"{'  per-round ratios':28} " + ", ".join(f"{a / b:.2f}x" for a, b in zip(ns, ts)))
PY
if [ "${PROFILE:-0}" = 1 ]; then
  echo
  NERVE_NUM_THREADS=$THREADS build/bench/bench_resnet "$STEPS" 1 $BS profile 2>&1 >/dev/null
  echo
  (source bench/torch_env.sh; $TORCH_PY bench/resnet_torch.py --train-steps "$STEPS" --infer-batches 1 --batch $BS \
    --threads $THREADS --profile 2>&1 >/dev/null)
fi
