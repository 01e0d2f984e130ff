// Vectorized softmax rows (AVX-512, AVX2 and baseline clones).
#include "backend/cpu/softmax_kernels.h"

#include <cmath>
#include <limits>

#include "backend/cpu/fast_math.h"

namespace nerve::cpu {

namespace {
constexpr float kExpUnderflow = -87.3f;  // e^x < FLT_MIN below this

inline float exp0(float x) { return x < kExpUnderflow ? 0.0f : fast_exp(x); }
}  // namespace

__attribute__((target_clones("avx512f", "avx2", "default"))) float logsumexp_row(const float* x, int64_t n) {
  float m = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : m)
  for (int64_t c = 0; c < n; ++c) m = x[c] > m ? x[c] : m;  // NaN is skipped here and poisons the sum below
  if (m == -std::numeric_limits<float>::infinity()) {
    bool nan = false;
    for (int64_t c = 0; c < n; ++c) nan |= x[c] != x[c];
    return nan ? std::numeric_limits<float>::quiet_NaN() : m;  // all -inf (or empty): log(0)
  }
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t c = 0; c < n; ++c) s += exp0(x[c] - m);
  return m + std::log(s);
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void softmax_row(const float* __restrict x, int64_t n,
                                                                               float lse, float scale, float sub,
                                                                               float* __restrict out) {
#pragma omp simd
  for (int64_t c = 0; c < n; ++c) out[c] = scale * exp0(x[c] - lse) - sub;
}

}  // namespace nerve::cpu
