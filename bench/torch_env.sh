# Sourced by the side-by-side benchmarks: the fair PyTorch peer. Debian's torch calls BLAS through libblas.so.3;
# point it at the OpenMP build of OpenBLAS with its best kernels for this CPU (AVX-512, else AVX2: OpenBLAS
# 0.3.21 misdetects these VMs' AMD CPUs), 2 threads everywhere.
export LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
if grep -qw avx512f /proc/cpuinfo; then
  export OPENBLAS_CORETYPE=SkylakeX
elif grep -qw avx2 /proc/cpuinfo; then
  export OPENBLAS_CORETYPE=Haswell
fi
export OMP_NUM_THREADS=${THREADS:-2} OPENBLAS_NUM_THREADS=${THREADS:-2}
TORCH_PY=/usr/bin/python3
