// Vectorized f32 reductions (AVX-512 / AVX2 / baseline clones) for sum, mean and the softmax backward.
#pragma once
#include <cstdint>

namespace nerve::cpu {

/// Sum of x[0, n): float lanes within blocks of kSumBlock elements, the block sums added in double. The
/// blocking is fixed, so the result does not depend on the number of threads. Parallel when n is large.
inline constexpr int64_t kSumBlock = 4096;
double sum_f32(const float* x, int64_t n);
/// The same on the calling thread only.
double sum_f32_serial(const float* x, int64_t n);

/// acc[c] += row[c] for c < n.
void add_row_f32(float* acc, const float* row, int64_t n);

/// max (or min) of x[0, n), n > 0; NaN if any element is NaN (as torch.max). Parallel when n is large.
float extreme_f32(const float* x, int64_t n, bool is_max);
/// acc[c] = max(acc[c], row[c]) (or min) for c < n, NaN winning.
void extreme_row_into_f32(float* acc, const float* row, int64_t n, bool is_max);

/// sum of a[i] * b[i] (float lanes, one row of a softmax backward).
float dot_f32(const float* a, const float* b, int64_t n);

}  // namespace nerve::cpu
