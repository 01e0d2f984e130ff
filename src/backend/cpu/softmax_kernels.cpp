// Vectorized softmax rows (AVX-512, AVX2 and baseline clones).
#include "backend/cpu/softmax_kernels.h"
#include "core/simd_clones.h"

#include <cmath>
#include <limits>

#include "backend/cpu/fast_math.h"
#include "backend/cpu/reduce_kernels.h"

namespace nerve::cpu {

namespace {
constexpr float kExpUnderflow = -87.3f;  // e^x < FLT_MIN below this

inline float exp0(float x) { return x < kExpUnderflow ? 0.0f : fast_exp(x); }
}  // namespace

// Rows are processed in blocks of 16 (one AVX-512 vector); the tail is copied into a block padded with -inf
// (e^-inf = 0), so short rows (10 classes) also run vectorized instead of through a scalar remainder loop.
constexpr int64_t kBlock = 16;

NERVE_SIMD_CLONES float logsumexp_row(const float* x, int64_t n) {
  const float ninf = -std::numeric_limits<float>::infinity();
  float tail[kBlock];
  const int64_t full = n / kBlock * kBlock;
  for (int64_t c = 0; c < kBlock; ++c) tail[c] = full + c < n ? x[full + c] : ninf;
  float m = ninf;
#pragma omp simd reduction(max : m)
  for (int64_t c = 0; c < full; ++c) m = x[c] > m ? x[c] : m;  // NaN is skipped here and poisons the sum below
#pragma omp simd reduction(max : m)
  for (int64_t c = 0; c < kBlock; ++c) m = tail[c] > m ? tail[c] : m;
  if (m == ninf) {
    bool nan = false;
    for (int64_t c = 0; c < n; ++c) nan |= x[c] != x[c];
    return nan ? std::numeric_limits<float>::quiet_NaN() : m;  // all -inf (or empty): log(0)
  }
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t c = 0; c < full; ++c) s += exp0(x[c] - m);
#pragma omp simd reduction(+ : s)
  for (int64_t c = 0; c < kBlock; ++c) s += exp0(tail[c] - m);
  return m + std::log(s);
}

NERVE_SIMD_CLONES void softmax_row(const float* __restrict x, int64_t n, float lse, float scale, float sub,
                                   float* __restrict out) {
  const int64_t full = n / kBlock * kBlock;
#pragma omp simd
  for (int64_t c = 0; c < full; ++c) out[c] = scale * exp0(x[c] - lse) - sub;
  if (full == n) return;
  float tail[kBlock], res[kBlock];
  for (int64_t c = 0; c < kBlock; ++c) tail[c] = full + c < n ? x[full + c] : 0.0f;
#pragma omp simd
  for (int64_t c = 0; c < kBlock; ++c) res[c] = scale * exp0(tail[c] - lse) - sub;
  for (int64_t c = full; c < n; ++c) out[c] = res[c - full];
}

NERVE_SIMD_CLONES void softmax_row_full(const float* __restrict x, int64_t n, float* __restrict out) {
  float m = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : m)
  for (int64_t c = 0; c < n; ++c) m = x[c] > m ? x[c] : m;  // NaN is skipped here and poisons the sum below
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t c = 0; c < n; ++c) {
    const float e = exp0(x[c] - m);
    out[c] = e;
    s += e;
  }
  const float inv = 1.0f / s;
#pragma omp simd
  for (int64_t c = 0; c < n; ++c) out[c] *= inv;
}

NERVE_SIMD_CLONES void log_softmax_row_full(const float* __restrict x, int64_t n, float* __restrict out) {
  float m = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : m)
  for (int64_t c = 0; c < n; ++c) m = x[c] > m ? x[c] : m;
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t c = 0; c < n; ++c) s += exp0(x[c] - m);
  const float lse = m + std::log(s);
#pragma omp simd
  for (int64_t c = 0; c < n; ++c) out[c] = x[c] - lse;
}

NERVE_SIMD_CLONES void softmax_backward_row(const float* __restrict g, const float* __restrict y, int64_t n, bool log,
                                            float* __restrict dx) {
  if (log) {
    const float s = static_cast<float>(sum_f32_serial(g, n));
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) dx[i] = g[i] - exp_full(y[i]) * s;
  } else {
    const float s = dot_f32(g, y, n);
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) dx[i] = y[i] * (g[i] - s);
  }
}

}  // namespace nerve::cpu
