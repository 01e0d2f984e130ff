#!/bin/bash
# Peak memory of one causal attention forward + backward, T=4096, 8 heads of 64, batch 1: nerve's fused op, the
# same attention written out in nerve, and PyTorch 1.13's written-out attention. Run on a quiet machine:
#   bash bench/attention.sh [build dir] [T]
set -euo pipefail
BUILD=${1:-build}
T=${2:-4096}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/torch_env.sh"
cmake --build "$BUILD" -j2 --target bench_attention >/dev/null
uptime
"$BUILD/bench/bench_attention" fused "$T"
"$BUILD/bench/bench_attention" explicit "$T"
$TORCH_PY "$HERE/attention_torch.py" "$T"
