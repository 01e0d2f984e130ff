#!/usr/bin/env bash
# char_lstm --stateful under mpirun -np 2 with --batch 2 per rank reads, rank by rank, the rows one process reads
# with --batch 4 (each rank carries the hidden state of its 2 streams): the job's loss (the ranks' losses averaged)
# equals the single process's. After 1 step both are the loss of the same initial weights on the same 4 x 16
# tokens: only the summation order differs (a mean of 2 means against one mean of 64 f32 values, and GEMMs of 2
# rows against 4), a few f32 ulps of a loss near 3 (ulp 2.4e-7): bound 2e-5. After 4 steps (3 Adam updates of lr
# 2e-3 from gradients that differ by the same rounding) the loss moves by ~1e-6 in practice; the bound 1e-3 still
# fails a wrong shard (other streams give a loss that differs by ~1e-2 or more at step 4).
# The corpus is the numbers 1..700 (not periodic: every stream holds other text, so a rank reading another rank's
# streams, or all streams, changes the loss; the ctest corpus repeats one sentence and could not tell).
#   check_stateful_mpi.sh CHAR_LSTM MPIEXEC [MPIEXEC FLAGS...]
set -euo pipefail
exe=$1
shift
mpi=("$@")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
corpus=$tmp/numbers.txt
seq 1 700 | tr '\n' ' ' > "$corpus"
loss() { grep -o '"final_loss": [0-9.e-]*' <<< "$1" | cut -d' ' -f2; }
compare() {  # steps bound
  local one two
  one=$(NERVE_NUM_THREADS=1 "$exe" --data "$corpus" --stateful --steps "$1" --batch 4 --seq 16 --gen 0 --threads 1 --json 2>/dev/null)
  two=$("${mpi[@]}" -np 2 -x NERVE_NUM_THREADS=1 -x OMP_NUM_THREADS=1 "$exe" --data "$corpus" --stateful --steps "$1" \
        --batch 2 --seq 16 --gen 0 --threads 1 --json 2>/dev/null)
  grep -q '"ranks": 2' <<< "$two" || { echo "mpirun -np 2 did not report 2 ranks: $two"; exit 1; }
  grep -q "\"steps\": $1," <<< "$two" || { echo "not $1 steps: $two"; exit 1; }
  /usr/bin/python3 - "$(loss "$one")" "$(loss "$two")" "$2" "$1" <<'PY'
import sys
one, two, bound, steps = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
d = abs(one - two)
print(f"{steps} steps: loss 1 process batch 4 {one:.7f}, 2 ranks x batch 2 {two:.7f}, |diff| {d:.2e} (bound {bound:g})")
sys.exit(0 if d <= bound else 1)
PY
}
compare 1 2e-5
compare 4 1e-3
# the check can fail: 2 of the 4 streams (what one rank alone reads) give another loss
half=$(NERVE_NUM_THREADS=1 "$exe" --data "$corpus" --stateful --steps 4 --batch 2 --seq 16 --gen 0 --threads 1 --json 2>/dev/null)
full=$(NERVE_NUM_THREADS=1 "$exe" --data "$corpus" --stateful --steps 4 --batch 4 --seq 16 --gen 0 --threads 1 --json 2>/dev/null)
/usr/bin/python3 -c 'import sys; d = abs(float(sys.argv[1]) - float(sys.argv[2])); print(f"control: batch 2 alone vs batch 4, |diff| {d:.2e}"); sys.exit(0 if d > 1e-2 else 1)' \
  "$(loss "$half")" "$(loss "$full")"
