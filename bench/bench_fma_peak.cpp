// The machine's floating-point ceiling: fused multiply-adds per second on one thread and on every thread of
// nerve's pool at once (12 independent FMA chains per thread, no memory traffic), for AVX-512 and AVX2 vectors.
// The efficiency figures in bench/README.md (a GEMM at X% of peak) divide by these.   bench_fma_peak [threads]
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include <nerve/nerve.h>

namespace {

constexpr long kIters = 20'000'000;  // 12 FMAs each

__attribute__((target("avx512f"), noinline)) float fma_zmm(long n) {
  __m512 a[12];
  for (int i = 0; i < 12; ++i) a[i] = _mm512_set1_ps(0.001f * i);
  const __m512 b = _mm512_set1_ps(0.999f), c = _mm512_set1_ps(1e-4f);
  for (long k = 0; k < n; ++k)
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) a[i] = _mm512_fmadd_ps(a[i], b, c);
  __m512 s = a[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, a[i]);
  float o[16];
  _mm512_storeu_ps(o, s);
  return o[0];
}

__attribute__((target("avx2,fma"), noinline)) float fma_ymm(long n) {
  __m256 a[12];
  for (int i = 0; i < 12; ++i) a[i] = _mm256_set1_ps(0.001f * i);
  const __m256 b = _mm256_set1_ps(0.999f), c = _mm256_set1_ps(1e-4f);
  for (long k = 0; k < n; ++k)
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) a[i] = _mm256_fmadd_ps(a[i], b, c);
  __m256 s = a[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, a[i]);
  float o[8];
  _mm256_storeu_ps(o, s);
  return o[0];
}

// GFLOP/s of `threads` threads each running f(kIters) at once (2 flops per lane per FMA)
template <class F>
double gflops(int threads, int lanes, F f) {
  std::atomic<float> sink{0};
  auto t0 = std::chrono::steady_clock::now();
  nerve::parallel_chunks(threads, [&](int64_t) { sink = sink + f(kIters); });
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return 2.0 * lanes * 12 * double(kIters) * threads / s / 1e9;
}

}  // namespace

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
