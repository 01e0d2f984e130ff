// The machine's floating-point ceiling: fused multiply-adds per second on one thread and on every thread of
// nerve's pool at once (12 independent FMA chains per thread, no memory traffic), for AVX-512 and AVX2 vectors.
// The efficiency figures in bench/README.md (a GEMM at X% of peak) divide by these.   bench_fma_peak [threads]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include <nerve/nerve.h>

#include "fma_peak.h"

using fma_peak::fma_ymm;
using fma_peak::fma_zmm;
using fma_peak::gflops;

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : nerve::get_num_threads();
  nerve::set_num_threads(threads);
  const bool avx512 = __builtin_cpu_supports("avx512f"), avx2 = __builtin_cpu_supports("avx2");
  std::printf("f32 FMA peak, GFLOP/s (best of 3)\n%-8s %10s %10s\n", "vector", "1 thread", "all");
  for (int v = 0; v < 2; ++v) {
    if ((v == 0 && !avx512) || (v == 1 && !avx2)) continue;
    double one = 0, all = 0;
    for (int r = 0; r < 3; ++r) {
      one = std::max(one, v == 0 ? gflops(1, 16, fma_zmm) : gflops(1, 8, fma_ymm));
      all = std::max(all, v == 0 ? gflops(threads, 16, fma_zmm) : gflops(threads, 8, fma_ymm));
    }
    std::printf("%-8s %10.1f %10.1f  (%d threads)\n", v == 0 ? "avx512" : "avx2", one, all, threads);
  }
  return 0;
}
