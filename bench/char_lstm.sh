#!/bin/bash
# Side-by-side char-LSTM benchmark: nerve's examples/char_lstm against bench/char_lstm_torch.py (the same
# program in PyTorch), run alternately so both see the same machine load; prints every run and the ratios of the
# medians (training tokens/s, generation chars/s) and both losses after the same number of steps. PyTorch runs in
# bench/torch_env.sh's environment (the project's fair PyTorch peer: OpenMP OpenBLAS, THREADS everywhere).
#   bench/char_lstm.sh [build_dir] [rounds] [steps]      env: THREADS (default 2), DATA (corpus path)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
rounds=${2:-3}
steps=${3:-200}
threads=${THREADS:-2}
data=${DATA:-/usr/share/games/fortunes}
exe=$build/examples/char_lstm
if [ ! -x "$exe" ]; then
  echo "missing $exe: cmake --build $build --target char_lstm" >&2
  exit 1
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "# $rounds rounds, $steps steps, $threads threads, load: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
  "$exe" --data "$data" --steps "$steps" --threads "$threads" --json 2>/dev/null | tail -1 | tee -a "$out/nerve.jsonl"
  (THREADS=$threads && source "$root/bench/torch_env.sh" &&
    "$TORCH_PY" "$root/bench/char_lstm_torch.py" --data "$data" --steps "$steps" --threads "$threads" --json \
      2>/dev/null | tail -1 | tee -a "$out/torch.jsonl")
done
/usr/bin/python3 - "$out" <<'EOF'
import json, statistics, sys
d = sys.argv[1]
runs = {k: [json.loads(l) for l in open(f"{d}/{k}.jsonl")] for k in ("nerve", "torch")}
med = {k: {m: statistics.median(r[m] for r in v) for m in v[0] if m not in ("impl",)} for k, v in runs.items()}
n, t = med["nerve"], med["torch"]
print(f"median tokens/s      nerve {n['tokens_per_second']:9.0f}  pytorch {t['tokens_per_second']:9.0f}  "
      f"ratio {n['tokens_per_second'] / t['tokens_per_second']:.2f}x")
per_round = sorted(a["tokens_per_second"] / b["tokens_per_second"] for a, b in zip(runs["nerve"], runs["torch"]))
print(f"  per-round ratios   {', '.join(f'{r:.2f}x' for r in per_round)}")
# PyTorch's speed is bimodal on some machines (~24k-27k or ~37k-39k tokens/s on the 2-vCPU Zen 4 VM): the ratio
# against each group of its rounds, split at the midpoint of its fastest and slowest round
pt = [r["tokens_per_second"] for r in runs["torch"]]
cut = (min(pt) + max(pt)) / 2
for label, group in (("slower", [x for x in pt if x < cut]), ("faster", [x for x in pt if x >= cut])):
    if group and max(pt) > 1.2 * min(pt):
        print(f"  vs PyTorch's {label} rounds ({len(group)}, median {statistics.median(group):.0f}): "
              f"{n['tokens_per_second'] / statistics.median(group):.2f}x")
print(f"median generate c/s  nerve {n['generate_chars_per_second']:9.0f}  pytorch "
      f"{t['generate_chars_per_second']:9.0f}  ratio {n['generate_chars_per_second'] / t['generate_chars_per_second']:.2f}x")
print(f"final loss           nerve {n['final_loss']:9.4f}  pytorch {t['final_loss']:9.4f}  "
      f"diff {n['final_loss'] - t['final_loss']:+.4f} nats")
print(f"mean loss last 20    nerve {n['mean_loss_last20']:9.4f}  pytorch {t['mean_loss_last20']:9.4f}  "
      f"diff {n['mean_loss_last20'] - t['mean_loss_last20']:+.4f} nats")
print(f"peak RSS MiB         nerve {n['peak_rss_mib']:9.0f}  pytorch {t['peak_rss_mib']:9.0f}")
EOF
