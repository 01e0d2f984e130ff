#!/bin/bash
# Side-by-side GPT benchmark: nerve's examples/gpt against bench/gpt_torch.py (the same model, data, windows and
# validation batches in PyTorch), run alternately so both see the same machine load; prints every run, the ratios of
# the medians (training tokens/s, generation tokens/s with a KV cache on both sides), both validation losses after
# the same number of steps, and the training step's share of the f32 FMA peak (bench_fma_peak, when built).
# PyTorch runs in bench/torch_env.sh's environment (OpenMP OpenBLAS, THREADS everywhere).
#   bench/gpt.sh [build_dir] [rounds] [steps]      env: THREADS (default 2), DATA (corpus path)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
rounds=${2:-3}
steps=${3:-200}
threads=${THREADS:-2}
data=${DATA:-/usr/share/games/fortunes}
exe=$build/examples/gpt
if [ ! -x "$exe" ]; then
  echo "missing $exe: cmake --build $build --target gpt" >&2
  exit 1
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "# $rounds rounds, $steps steps, $threads threads, load: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
  "$exe" --data "$data" --steps "$steps" --threads "$threads" --json 2>"$out/nerve.err" | tail -1 |
    tee -a "$out/nerve.jsonl" || { echo "examples/gpt failed: $(tail -1 "$out/nerve.err")" >&2; exit 1; }
  (THREADS=$threads && source "$root/bench/torch_env.sh" &&
    "$TORCH_PY" "$root/bench/gpt_torch.py" --data "$data" --steps "$steps" --threads "$threads" --json \
      2>"$out/torch.err" | tail -1 | tee -a "$out/torch.jsonl") ||
    { echo "bench/gpt_torch.py failed: $(tail -1 "$out/torch.err")" >&2; exit 1; }
done
peak=""
if [ -x "$build/bench/bench_fma_peak" ]; then
  # the best vector width's figure on all threads
  peak=$("$build/bench/bench_fma_peak" "$threads" | awk '$1 == "avx512" || $1 == "avx2" { if ($3 > p) p = $3 } END { print p }')
fi
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 - "$out" "$peak" <<'PY'
import json, statistics, sys
d, peak = sys.argv[1], sys.argv[2]
runs = {k: [json.loads(l) for l in open(f"{d}/{k}.jsonl")] for k in ("nerve", "torch")}
med = {k: {m: statistics.median(r[m] for r in v) for m in v[0] if m != "impl"} for k, v in runs.items()}
n, t = med["nerve"], med["torch"]
for key, label in (("tokens_per_second", "training tok/s"), ("generate_tokens_per_second", "generate tok/s")):
    print(f"median {label:15s} nerve {n[key]:9.0f}  pytorch {t[key]:9.0f}  ratio {n[key] / t[key]:.2f}x")
per_round = [a["tokens_per_second"] / b["tokens_per_second"] for a, b in zip(runs["nerve"], runs["torch"])]
print(f"  per-round training ratios  {', '.join(f'{r:.2f}x' for r in per_round)}")
print(f"val loss              nerve {n['val_loss']:9.4f}  pytorch {t['val_loss']:9.4f}  "
      f"diff {n['val_loss'] - t['val_loss']:+.4f} nats")
print(f"peak RSS MiB          nerve {n['peak_rss_mib']:9.0f}  pytorch {t['peak_rss_mib']:9.0f}")
# FLOPs per trained token (Kaplan et al. 2020, appendix; 3x the forward for forward + backward): the matmuls of
# the blocks (qkv 3C^2, proj C^2, MLP 2 C F per token, 2 FLOPs per multiply-add), the tied output layer (V C),
# and attention's q k^T and p v (2 T C per token and layer for the full T x T scores that both sides compute)
L, C, F, T, V = 4, 256, 1024, 128, int(n["vocab"])
fwd = 2 * (L * (4 * C * C + 2 * C * F) + V * C) + L * 2 * 2 * T * C
flops = 3 * fwd
if peak:
    for name, r in (("nerve", n), ("pytorch", t)):
        g = flops * r["tokens_per_second"] / 1e9
        print(f"training step {name:8s} {g:7.1f} GFLOP/s = {100 * g / float(peak):5.1f}% of the f32 FMA peak "
              f"({float(peak):.1f} GFLOP/s)")
PY
