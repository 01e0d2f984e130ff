#!/bin/bash
# nerve from Python against PyTorch (issue 18's targets), rounds alternating so both see the same load:
#   per-op overhead (add of two 32x128 tensors; forward, and forward + backward)     target: <= 1/2 of PyTorch's
#   the Keras program's samples/s at batch 32 (bench/python_keras.py vs bench/mnist_torch.py)  target: >= 3x
#   the LSTM program's tokens/s (examples/python/lstm_lm.py vs bench/char_lstm_torch.py)      target: >= 2.5x
#   `import nerve` vs `import torch` wall time                                                target: <= 1/5
#   and, when build/examples has them, the C++ programs (mnist_mlp, char_lstm) in the same rounds, for comparison
# Prints every run, the medians and the ratios, and the load average (the machine is shared: rerun when quiet).
#   bench/python.sh [build_dir] [rounds] [epochs] [steps]      env: THREADS (default 2)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
rounds=${2:-3}
epochs=${3:-1}
steps=${4:-100}
threads=${THREADS:-2}
export PYTHONPATH=$build/python NERVE_NUM_THREADS=$threads
py=/usr/bin/python3
if [ ! -f "$build/python/nerve/__init__.py" ]; then
  echo "missing $build/python/nerve: cmake --build $build --target python" >&2
  exit 1
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "# $rounds rounds, keras $epochs epoch(s), lstm $steps steps, $threads threads, load before: $(cut -d' ' -f1-3 /proc/loadavg)"
import_time() {  # seconds for `import $1`, median of 5 fresh interpreters
  for _ in 1 2 3 4 5; do
    "$py" -c "import time; t = time.perf_counter(); import $1; print(time.perf_counter() - t)"
  done | sort -n | sed -n 3p
}
for r in $(seq "$rounds"); do
  "$py" "$root/bench/python_overhead.py" --impl nerve --threads "$threads" | tee -a "$out/ovh_nerve.jsonl"
  (THREADS=$threads && source "$root/bench/torch_env.sh" &&
    "$TORCH_PY" "$root/bench/python_overhead.py" --impl torch --threads "$threads" | tee -a "$out/ovh_torch.jsonl")
  "$py" "$root/bench/python_keras.py" --epochs "$epochs" --threads "$threads" | tee -a "$out/keras_nerve.jsonl"
  if [ -x "$build/examples/mnist_mlp" ]; then  # the C++ Keras program in the same rounds: what Python adds to it
    "$build/examples/mnist_mlp" --epochs "$epochs" --batch-size 32 --threads "$threads" --json 2>/dev/null | tail -1 |
      tee -a "$out/keras_cpp.jsonl"
  fi
  (THREADS=$threads && source "$root/bench/torch_env.sh" &&
    "$TORCH_PY" "$root/bench/mnist_torch.py" --epochs "$epochs" --threads "$threads" | tee -a "$out/keras_torch.jsonl")
  "$py" "$root/examples/python/lstm_lm.py" --steps "$steps" --threads "$threads" --gen 20 2>/dev/null |
    sed -n 's/^tokens\/s \([0-9.]*\).*/{"tokens_per_second": \1}/p' | tee -a "$out/lstm_nerve.jsonl"
  if [ -x "$build/examples/char_lstm" ]; then  # the C++ LSTM program, same settings
    "$build/examples/char_lstm" --steps "$steps" --threads "$threads" --gen 20 --json 2>/dev/null | tail -1 |
      tee -a "$out/lstm_cpp.jsonl"
  fi
  (THREADS=$threads && source "$root/bench/torch_env.sh" &&
    "$TORCH_PY" "$root/bench/char_lstm_torch.py" --steps "$steps" --threads "$threads" --gen 20 --json 2>/dev/null |
    tail -1 | tee -a "$out/lstm_torch.jsonl")
  echo "{\"import_s\": $(import_time nerve)}" | tee -a "$out/import_nerve.jsonl"
  (source "$root/bench/torch_env.sh" && echo "{\"import_s\": $(import_time torch)}" | tee -a "$out/import_torch.jsonl")
done
"$py" - "$out" <<'PY'
import json, statistics, sys
d = sys.argv[1]
def med(name, key):
    return statistics.median(json.loads(l)[key] for l in open(f"{d}/{name}.jsonl") if l.strip())
rows = [("add 32x128, us/call (lower is better)", "ovh", "add_us", True, 0.5),
        ("add 32x128 fwd+bwd, us/call", "ovh", "add_fwd_bwd_us", True, 0.5),
        ("Keras program, samples/s", "keras", "samples_per_second", False, 3.0),
        ("LSTM program, tokens/s", "lstm", "tokens_per_second", False, 2.5),
        ("import time, s (lower is better)", "import", "import_s", True, 0.2)]
import os
for name, label, k, target in (("keras_cpp", "Keras program, C++ (examples/mnist_mlp)", "samples_per_second", 3.0),
                               ("lstm_cpp", "LSTM program, C++ (examples/char_lstm)", "tokens_per_second", 2.5)):
    if os.path.exists(f"{d}/{name}.jsonl"):
        rows.append((label, name[:-4], k, False, target))
print(f"{'':40s} {'nerve':>12s} {'torch':>12s} {'ratio':>8s} target")
for label, f, k, lower, target in rows:
    n, t = med(f + ("_cpp" if "C++" in label else "_nerve"), k), med(f + "_torch", k)
    ratio = n / t
    ok = ratio <= target if lower else ratio >= target
    print(f"{label:40s} {n:12.4g} {t:12.4g} {ratio:7.2f}x {'<=' if lower else '>='} {target}x {'met' if ok else 'NOT met'}")
PY
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
