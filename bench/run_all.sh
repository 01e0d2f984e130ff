#!/usr/bin/env bash
# Runs every side-by-side benchmark (nerve vs PyTorch on this machine). `make bench` calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== this machine's f32 FMA ceiling (build/bench/bench_fma_peak)"
build/bench/bench_fma_peak
echo "== per-op overhead and matmul (bench/ops.sh)"
bash bench/ops.sh 3
echo "== Keras MNIST program (bench/mnist.sh)"
bash bench/mnist.sh 5 5
echo "== the small CNN on Fashion-MNIST (bench/cnn.sh)"
bash bench/cnn.sh 1 3
if [[ -x build/examples/char_lstm && -f bench/char_lstm.sh ]]; then
  echo "== char LSTM language model (bench/char_lstm.sh)"
  bash bench/char_lstm.sh build 5 200
fi
