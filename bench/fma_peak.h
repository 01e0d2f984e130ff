// The machine's f32 FMA ceiling (12 independent FMA chains per thread, no memory traffic), shared by
// bench_fma_peak and bench_gemm_ceiling: GFLOP/s of AVX-512 or AVX2 FMAs on `threads` threads at once.
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>

#include <nerve/nerve.h>

namespace fma_peak {

inline constexpr long kIters = 20'000'000;  // 12 FMAs each

__attribute__((target("avx512f"), noinline)) inline float fma_zmm(long n) {
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

__attribute__((target("avx2,fma"), noinline)) inline float fma_ymm(long n) {
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


/// The best vector width's figure on `threads` threads (best of 3): what bench/README.md's "% of peak" divides by.
inline double best_gflops(int threads) {
  double best = 0;
  for (int r = 0; r < 3; ++r) {
    if (__builtin_cpu_supports("avx512f")) best = std::max(best, gflops(threads, 16, fma_zmm));
    if (__builtin_cpu_supports("avx2")) best = std::max(best, gflops(threads, 8, fma_ymm));
  }
  return best;
}

}  // namespace fma_peak
