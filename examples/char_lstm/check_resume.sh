#!/usr/bin/env bash
# char_lstm: 8 steps straight, or 5 steps + --save, then --resume to 8 in a new process, write byte-identical
# checkpoints (model, Adam state, generator, step) and the same final loss; the 5 steps end inside an epoch, the
# resumed run crosses into the next one. Then --load generates from the checkpoint without training.
#   check_resume.sh CHAR_LSTM CORPUS
set -euo pipefail
exe=$1 corpus=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run() {
  local out
  out=$("$exe" --data "$corpus" --batch 4 --seq 16 --gen 10 --json "$@" 2>/dev/null)
  grep -o '"final_loss": [0-9.]*' <<< "$out"
}
straight=$(run --steps 8 --save "$tmp/straight.st")
run --steps 5 --save "$tmp/half.st" > /dev/null
resumed=$(run --steps 8 --resume "$tmp/half.st" --save "$tmp/resumed.st")
[[ $straight == "$resumed" ]] || { echo "final loss: straight $straight, resumed $resumed"; exit 1; }
cmp "$tmp/straight.st" "$tmp/resumed.st" || { echo "the checkpoints differ"; exit 1; }
out=$("$exe" --data "$corpus" --batch 4 --seq 16 --gen 10 --load "$tmp/resumed.st" 2>&1)
grep -q "^sample: " <<< "$out" || { echo "--load did not generate: $out"; exit 1; }
echo "ok: resumed = straight ($straight), checkpoints byte-identical"
