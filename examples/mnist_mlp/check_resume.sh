#!/usr/bin/env bash
# The full Keras MNIST program killed and resumed: `mnist_mlp --epochs 3 --backup DIR` is killed (SIGKILL) in its
# second epoch, after the first epoch's backup exists; the same command started again resumes from the backup, and
# the model file it saves (weights and Adam state) is byte-identical to a run that was never interrupted.
#   check_resume.sh MNIST_MLP DATA_DIR
set -euo pipefail
mnist=$1 data=$2
tmp=$(mktemp -d)
trap 'kill -9 $pid 2>/dev/null || true; rm -rf "$tmp"' EXIT
pid=0
run=("$mnist" --data "$data" --epochs 3 --threads 2 --seed 11 --json)
"${run[@]}" --save "$tmp/straight.nerve" > /dev/null

"${run[@]}" --backup "$tmp/backup" --save "$tmp/resumed.nerve" > /dev/null &
pid=$!
for _ in $(seq 1 600); do  # up to 60 s for the first epoch's backup
  [[ -n $(ls -A "$tmp/backup" 2>/dev/null) ]] && break
  sleep 0.1
done
[[ -n $(ls -A "$tmp/backup" 2>/dev/null) ]] || { echo "no backup after 60 s"; exit 1; }
kill -9 $pid
wait $pid 2>/dev/null && { echo "the run ended before it was killed: the test proves nothing"; exit 1; }
[[ ! -e "$tmp/resumed.nerve" ]] || { echo "the killed run got to save its model"; exit 1; }
echo "killed in epoch 2; backup: $(ls "$tmp/backup")"

"${run[@]}" --backup "$tmp/backup" --save "$tmp/resumed.nerve" > /dev/null
[[ -z $(ls -A "$tmp/backup" 2>/dev/null) ]] || { echo "the backup was not removed after the resumed run ended"; exit 1; }
cmp "$tmp/straight.nerve" "$tmp/resumed.nerve" || { echo "the resumed run's model differs from the straight run's"; exit 1; }
echo "ok: killed and resumed = straight, byte for byte ($(stat -c %s "$tmp/straight.nerve") bytes)"
