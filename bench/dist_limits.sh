#!/usr/bin/env bash
# What bounds the MLP's data-parallel scaling on this machine (issue 17, MLP batch 128, 1 thread per process):
#   one      1 process alone on core 0 (samples/s)
#   pair     2 independent processes at once, one per core, no MPI: the sum of their samples/s over `one` is the
#            scaling 2 ranks would reach with free communication (what sharing the caches, the memory and the
#            hypervisor's 2 vCPUs costs by itself)
#   np2      mpirun -np 2 (the job's samples/s), gradients of >= 256 KB all-reduced in place (the default)
#   np2 copy mpirun -np 2 --own-bucket-kb 0: every gradient copied into one 25 MB bucket and back
#   np2 mpi  mpirun -np 2 with NERVE_DIST_SHM=0: the all-reduce through MPI_Iallreduce instead of nerve's
#            shared-memory window (before)
#   ar       bench_allreduce: the 407 KB all-reduce alone between 2 ranks (median us of the slower rank), against
#            the 1-process step (128 / one), through the window and through MPI alternating in the same run
# Runs alternate, ROUNDS times; medians at the end, with uptime before and after (a shared machine's figures are
# only as good as it is quiet). Usage: bash bench/dist_limits.sh [rounds]   (make build first)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
MPIRUN=(mpirun --allow-run-as-root ${MPIRUN_FLAGS:---bind-to core} -x NERVE_NUM_THREADS=1 -x OMP_NUM_THREADS=1)
mlp=(build/examples/mnist_mlp --epochs 1 --batch-size 128 --threads 1 --json)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "cores: $(nproc); before: $(uptime)"
for r in $(seq "$ROUNDS"); do
  NERVE_NUM_THREADS=1 taskset -c 0 "${mlp[@]}" | sed 's/^{/{"run": "one", /' | tee -a "$tmp/runs.jsonl"
  NERVE_NUM_THREADS=1 taskset -c 0 "${mlp[@]}" > "$tmp/a.json" &
  NERVE_NUM_THREADS=1 taskset -c 1 "${mlp[@]}" > "$tmp/b.json"
  wait
  sed 's/^{/{"run": "pair", /' "$tmp/a.json" "$tmp/b.json" | tee -a "$tmp/runs.jsonl"
  "${MPIRUN[@]}" -np 2 "${mlp[@]}" | sed 's/^{/{"run": "np2", /' | tee -a "$tmp/runs.jsonl"
  "${MPIRUN[@]}" -np 2 "${mlp[@]}" --own-bucket-kb 0 | sed 's/^{/{"run": "np2 copy", /' | tee -a "$tmp/runs.jsonl"
  "${MPIRUN[@]}" -np 2 -x NERVE_DIST_SHM=0 "${mlp[@]}" | sed 's/^{/{"run": "np2 mpi", /' | tee -a "$tmp/runs.jsonl"
  "${MPIRUN[@]}" -np 2 build/bench/bench_allreduce 300 407080 | sed 's/^{/{"run": "ar", /' | tee -a "$tmp/runs.jsonl"
done
echo "after: $(uptime)"
/usr/bin/python3 - "$tmp/runs.jsonl" <<'PY'
import json, sys, statistics as st
runs = [json.loads(l) for l in open(sys.argv[1])]
def med(run, key): return st.median(r[key] for r in runs if r["run"] == run)
one = med("one", "samples_per_second")
pairs = [r["samples_per_second"] for r in runs if r["run"] == "pair"]
pair = st.median(pairs[i] + pairs[i + 1] for i in range(0, len(pairs), 2))
ar = st.median(r["all_reduce_us"]["407080"] for r in runs if r["run"] == "ar")
ar_mpi = st.median(r["mpi_all_reduce_us"]["407080"] for r in runs if r["run"] == "ar")
step = 128 / one * 1e6
print(f"1 process: {one:.0f} samples/s, a step of 128 in {step:.0f} us")
print(f"2 processes at once, no communication: {pair:.0f} samples/s, {pair / one:.2f}x (the ceiling without communication)")
for run in ("np2", "np2 copy", "np2 mpi"):
    s = med(run, "samples_per_second")
    print(f"mpirun -np 2 ({run}): {s:.0f} samples/s, {s / one:.2f}x, waiting for the all-reduce "
          f"{100 * med(run, 'comm_wait_fraction'):.1f}%, copying gradients {100 * med(run, 'grad_copy_fraction'):.1f}%")
print(f"407 KB all-reduce alone: {ar:.0f} us = {100 * ar / step:.0f}% of the 1-process step; "
      f"ceiling with it unhidden: 2 x {step:.0f} / ({step:.0f} + {ar:.0f}) = {2 * step / (step + ar):.2f}x")
print(f"the same through MPI_Iallreduce (NERVE_DIST_SHM=0): {ar_mpi:.0f} us, ceiling {2 * step / (step + ar_mpi):.2f}x")
PY
