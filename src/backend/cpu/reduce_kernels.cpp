// Vectorized f32 reductions (AVX-512, AVX2 and baseline clones).
#include "backend/cpu/reduce_kernels.h"
#include "core/simd_clones.h"

#include <algorithm>
#include <vector>

#include "nerve/core/parallel.h"

namespace nerve::cpu {

namespace {
// 64 float lanes (four AVX-512 vectors, so four independent add chains), then a pairwise fold
constexpr int kLanes = 64;

NERVE_SIMD_CLONES float block_sum(const float* __restrict x, int64_t n) {
  float acc[kLanes] = {};
  const int64_t full = n / kLanes * kLanes;
  for (int64_t i = 0; i < full; i += kLanes)
#pragma omp simd
    for (int l = 0; l < kLanes; ++l) acc[l] += x[i + l];
  for (int64_t i = full; i < n; ++i) acc[i - full] += x[i];
  for (int w = kLanes / 2; w > 0; w /= 2)
#pragma omp simd
    for (int l = 0; l < w; ++l) acc[l] += acc[l + w];
  return acc[0];
}

double blocks_sum(const float* x, int64_t b0, int64_t b1, int64_t n) {
  double s = 0;
  for (int64_t b = b0; b < b1; ++b) s += block_sum(x + b * kSumBlock, std::min(kSumBlock, n - b * kSumBlock));
  return s;
}
}  // namespace

double sum_f32_serial(const float* x, int64_t n) { return blocks_sum(x, 0, (n + kSumBlock - 1) / kSumBlock, n); }

double sum_f32(const float* x, int64_t n) {
  const int64_t nb = (n + kSumBlock - 1) / kSumBlock;
  if (n < 4 * kParallelGrain || nb < 2) return sum_f32_serial(x, n);
  std::vector<double> part(nb);
  parallel_for(nb, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) part[i] = blocks_sum(x, i, i + 1, n);
  });
  double s = 0;
  for (double p : part) s += p;  // in block order: the same result for any number of threads
  return s;
}

// (NaN wins: a NaN accumulator stays NaN, a NaN element replaces it)
template <bool kMax>
[[gnu::always_inline]] inline float pick(float acc, float v) {
  return (kMax ? v > acc : v < acc) || v != v ? v : acc;
}

template <bool kMax>
[[gnu::always_inline]] inline float extreme_block(const float* __restrict x, int64_t n) {
  if (n < kLanes) {  // a short row (10 classes): no lanes to set up and fold
    float m = x[0];
    for (int64_t i = 1; i < n; ++i) m = pick<kMax>(m, x[i]);
    return m;
  }
  float acc[kLanes];
  for (int l = 0; l < kLanes; ++l) acc[l] = x[0];
  const int64_t full = n / kLanes * kLanes;
  for (int64_t i = 0; i < full; i += kLanes)
#pragma omp simd
    for (int l = 0; l < kLanes; ++l) acc[l] = pick<kMax>(acc[l], x[i + l]);
  float m = acc[0];
  for (int l = 1; l < kLanes; ++l) m = pick<kMax>(m, acc[l]);
  for (int64_t i = full; i < n; ++i) m = pick<kMax>(m, x[i]);
  return m;
}
NERVE_SIMD_CLONES float max_block(const float* x, int64_t n) { return extreme_block<true>(x, n); }
NERVE_SIMD_CLONES float min_block(const float* x, int64_t n) { return extreme_block<false>(x, n); }

NERVE_SIMD_CLONES void add_row_f32(float* __restrict acc, const float* __restrict row, int64_t n) {
#pragma omp simd
  for (int64_t c = 0; c < n; ++c) acc[c] += row[c];
}

float extreme_f32(const float* x, int64_t n, bool is_max) {
  auto block = [&](const float* p, int64_t m) { return is_max ? max_block(p, m) : min_block(p, m); };
  if (n < 4 * kParallelGrain) return block(x, n);
  float part[64];
  const int64_t chunks = std::min<int64_t>(64, get_num_threads());
  parallel_chunks(chunks, [&](int64_t i) { part[i] = block(x + n * i / chunks, n * (i + 1) / chunks - n * i / chunks); });
  return block(part, chunks);
}

NERVE_SIMD_CLONES void extreme_row_into_f32(float* __restrict acc, const float* __restrict row, int64_t n, bool is_max) {
  if (is_max) {
#pragma omp simd
    for (int64_t c = 0; c < n; ++c) acc[c] = pick<true>(acc[c], row[c]);
  } else {
#pragma omp simd
    for (int64_t c = 0; c < n; ++c) acc[c] = pick<false>(acc[c], row[c]);
  }
}

NERVE_SIMD_CLONES float dot_f32(const float* __restrict a, const float* __restrict b, int64_t n) {
  float acc[kLanes] = {};
  const int64_t full = n / kLanes * kLanes;
  for (int64_t i = 0; i < full; i += kLanes)
#pragma omp simd
    for (int l = 0; l < kLanes; ++l) acc[l] += a[i + l] * b[i + l];
  for (int64_t i = full; i < n; ++i) acc[i - full] += a[i] * b[i];
  for (int w = kLanes / 2; w > 0; w /= 2)
#pragma omp simd
    for (int l = 0; l < w; ++l) acc[l] += acc[l + w];
  return acc[0];
}

}  // namespace nerve::cpu
