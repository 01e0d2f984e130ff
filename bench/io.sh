#!/bin/bash
# Side-by-side model-file benchmark: saving and loading a ~100M-parameter state dict (100 Linear(1000, 1000)
# layers, 400 MB of f32) with nerve (safetensors, bench/bench_io.cpp) and with torch.save / torch.load
# (bench/io_torch.py), alternating runs, fresh processes, the files in DIR (page cache warm: both read back what
# they just wrote). nerve's run also reads PyTorch's file of the same round with io::load_torch. Prints every run
# and the medians.
#   bench/io.sh [build_dir] [rounds] [dir]      env: LAYERS (default 100)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
rounds=${2:-5}
dir=${3:-$(mktemp -d)}
layers=${LAYERS:-100}
exe=$build/bench/bench_io
[ -x "$exe" ] || { echo "missing $exe: cmake --build $build --target bench_io" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"; rm -f "$dir/torch.pt"' EXIT
echo "# $rounds rounds, $layers layers, files in $dir ($(df -h --output=fstype "$dir" | tail -1 | tr -d ' ')), load: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
  (source "$root/bench/torch_env.sh" && "$TORCH_PY" "$root/bench/io_torch.py" --dir "$dir" --layers "$layers" --keep |
    tee -a "$out/torch.jsonl")
  "$exe" --dir "$dir" --layers "$layers" --torch-file "$dir/torch.pt" | tee -a "$out/nerve.jsonl"
  rm -f "$dir/torch.pt"
done
/usr/bin/python3 - "$out" <<'PY'
import json, statistics, sys
d = sys.argv[1]
runs = {k: [json.loads(l) for l in open(f"{d}/{k}.jsonl")] for k in ("nerve", "torch")}
med = lambda k, m: statistics.median(r[m] for r in runs[k])
n, t = runs["nerve"][0], runs["torch"][0]
print(f"params {n['params']:,} (nerve file {n['bytes']:,} B, torch file {t['bytes']:,} B), medians of {len(runs['nerve'])} rounds:")
for m, what in (("save_s", "save"), ("load_s", "load (nerve: mmap)"), ("load_into_model_s", "load into a model")):
    print(f"  {what:22s} nerve {med('nerve', m):8.4f} s   torch {med('torch', m):8.4f} s   "
          f"torch / nerve {med('torch', m) / med('nerve', m):6.1f}x")
print(f"  nerve save to /dev/shm (tmpfs: no disk, fsync free) {med('nerve', 'save_tmpfs_s'):.4f} s")
print(f"  nerve load_torch of torch's file {med('nerve', 'load_torch_file_s'):.4f} s, into a model "
      f"{med('nerve', 'load_torch_file_into_model_s'):.4f} s")
print("  round trips equal:", all(r["roundtrip_ok"] for v in runs.values() for r in v))
PY
