#!/usr/bin/env bash
# One failing rank stops the whole job within seconds, with a message naming the rank (throw, exit, kill).
#   check_failure.sh FAIL_RANK_BINARY NP MPIEXEC [MPIEXEC FLAGS...]
set -uo pipefail
bin=$1 np=$2
shift 2
status=0
for mode in throw exit kill; do
  bad=$((np - 1))
  start=$(date +%s.%N)
  out=$(timeout 100 "$@" -np "$np" "$bin" "$mode" "$bad" 2>&1)
  rc=$?
  secs=$(echo "$(date +%s.%N) - $start" | bc)
  if [[ $rc == 0 || $rc == 124 ]]; then
    echo "FAIL $mode: the job did not stop (exit $rc after ${secs}s):"; echo "$out"; status=1; continue
  fi
  if (( $(echo "$secs > 30" | bc) )); then
    echo "FAIL $mode: the job took ${secs}s to stop"; status=1
  fi
  case $mode in
    throw) want="nerve::dist: rank $bad of $np: uncaught exception: fail_rank: a planted error" ;;
    exit) want="nerve::dist: rank $bad of $np: exited with status 3" ;;
    kill) want="process rank $bad with PID .* exited on signal 9" ;;
  esac
  if ! grep -q "$want" <<< "$out"; then
    echo "FAIL $mode: no message naming rank $bad ('$want') in:"; echo "$out"; status=1
  else
    echo "ok $mode: exit $rc after ${secs}s, rank $bad named"
  fi
  if grep -q "the job did not stop" <<< "$out"; then echo "FAIL $mode: a healthy rank ran on"; status=1; fi
done
exit $status
