# Sourced by the side-by-side benchmarks: the fair PyTorch peer. Debian's torch calls BLAS through libblas.so.3;
# point it at the OpenMP build of OpenBLAS with its AVX-512 kernels, 2 threads everywhere.
export LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export OPENBLAS_CORETYPE=SkylakeX
export OMP_NUM_THREADS=${THREADS:-2} OPENBLAS_NUM_THREADS=${THREADS:-2}
TORCH_PY=/usr/bin/python3
