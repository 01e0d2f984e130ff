#!/usr/bin/env bash
# Builds bench/gemm_libs.cpp and times SGEMM for oneDNN, BLIS, OpenBLAS (auto/SkylakeX core, openmp/pthread builds)
# and torch.matmul, with 1 and 2 threads. Usage: bash bench/gemm_libs.sh
set -euo pipefail
cd "$(dirname "$0")/.."
L=/usr/lib/x86_64-linux-gnu
BIN=${TMPDIR:-/tmp}/nerve_gemm_libs
g++ -O2 -std=c++20 -o "$BIN" bench/gemm_libs.cpp -ldl
for t in 1 2; do
  export OMP_NUM_THREADS=$t BLIS_NUM_THREADS=$t OPENBLAS_NUM_THREADS=$t
  "$BIN" dnnl  $L/libdnnl.so.2                        onednn-2.6.3
  "$BIN" cblas $L/blis-openmp/libblis.so.4            blis-0.9-openmp
  "$BIN" cblas $L/openblas-openmp/libopenblas.so.0    openblas-omp-auto
  OPENBLAS_CORETYPE=SkylakeX "$BIN" cblas $L/openblas-openmp/libopenblas.so.0  openblas-omp-SKX
  "$BIN" cblas $L/openblas-pthread/libopenblas.so.0   openblas-pth-auto
  OPENBLAS_CORETYPE=SkylakeX "$BIN" cblas $L/openblas-pthread/libopenblas.so.0 openblas-pth-SKX
done
unset OMP_NUM_THREADS BLIS_NUM_THREADS OPENBLAS_NUM_THREADS
for t in 1 2; do
  OPENBLAS_CORETYPE=SkylakeX OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t /usr/bin/python3 bench/torch_matmul.py $t
done
