#!/usr/bin/env bash
# Data-parallel scaling on one machine: 2 ranks x 1 thread (mpirun -np 2) against 1 process x 1 thread, for the Keras
# MLP (examples/mnist_mlp, batch 128 per rank) and the char LSTM (examples/char_lstm, batch 32 per rank), with the
# all-reduce overlapping backward (default) and after backward (--no-overlap), and through MPI_Iallreduce instead of
# nerve's shared-memory window (NERVE_DIST_SHM=0, overlap on: "mpi"). Runs alternate, ROUNDS times; prints
# every run's JSON, then the medians: job throughput, scaling (2 ranks / 1 process) and the share of rank 0's
# training time spent waiting for the gradient all-reduce. The load average is printed before and after: on a
# shared machine the figures are only as good as it is quiet.
# Usage: bash bench/dist.sh [mlp_epochs] [lstm_steps] [rounds]   (make build first; OpenMPI's mpirun)
#   MPIRUN_FLAGS="--bind-to core" (the default) or "--bind-to none --oversubscribe" on a busy machine
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${1:-1}
STEPS=${2:-300}
ROUNDS=${3:-3}
MPIRUN=(mpirun --allow-run-as-root ${MPIRUN_FLAGS:---bind-to core} -x NERVE_NUM_THREADS=1 -x OMP_NUM_THREADS=1)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "cores: $(nproc); before: $(uptime)"
tag() { sed "s/^{/{\"model\": \"$1\", \"np\": $2, \"overlap_flag\": \"$3\", /" | tee -a "$tmp/runs.jsonl"; }
for r in $(seq "$ROUNDS"); do
  mlp=(build/examples/mnist_mlp --epochs "$EPOCHS" --batch-size 128 --threads 1 --json)
  lstm=(build/examples/char_lstm --steps "$STEPS" --batch 32 --threads 1 --json)
  NERVE_NUM_THREADS=1 "${mlp[@]}" | tag mlp 1 on
  "${MPIRUN[@]}" -np 2 "${mlp[@]}" | tag mlp 2 on
  "${MPIRUN[@]}" -np 2 "${mlp[@]}" --no-overlap | tag mlp 2 off
  "${MPIRUN[@]}" -np 2 -x NERVE_DIST_SHM=0 "${mlp[@]}" | tag mlp 2 mpi
  NERVE_NUM_THREADS=1 "${lstm[@]}" 2>/dev/null | tag lstm 1 on
  "${MPIRUN[@]}" -np 2 "${lstm[@]}" 2>/dev/null | tag lstm 2 on
  "${MPIRUN[@]}" -np 2 "${lstm[@]}" --no-overlap 2>/dev/null | tag lstm 2 off
  "${MPIRUN[@]}" -np 2 -x NERVE_DIST_SHM=0 "${lstm[@]}" 2>/dev/null | tag lstm 2 mpi
done
echo "after: $(uptime)"
/usr/bin/python3 - "$tmp/runs.jsonl" <<'PY'
import json, sys, statistics as st
runs = [json.loads(l) for l in open(sys.argv[1])]
key = {"mlp": "samples_per_second", "lstm": "tokens_per_second"}
target = {"mlp": 1.8, "lstm": 1.7}
def med(model, np, ov, k): return st.median(r[k] for r in runs if r["model"] == model and r["np"] == np and r["overlap_flag"] == ov)
print(f"\n{'model':28} {'1 proc':>10} {'2 ranks':>10} {'scaling':>8} {'target':>7} {'wait for all-reduce':>20}")
for m in ("mlp", "lstm"):
    one = med(m, 1, "on", key[m])
    for ov in ("on", "off", "mpi"):
        two = med(m, 2, ov, key[m])
        wait = med(m, 2, ov, "comm_wait_fraction")
        name = f"{m} ({key[m].split('_')[0]}/s), " + ("MPI, overlap on" if ov == "mpi" else f"overlap {ov}")
        print(f"{name:28} {one:10.0f} {two:10.0f} {two / one:7.2f}x {target[m]:6.1f}x {100 * wait:19.1f}%")
PY
