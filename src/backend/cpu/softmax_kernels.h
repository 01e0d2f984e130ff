// Row kernels of the fused softmax + cross-entropy (f32): one vectorized pass for the row's log-sum-exp, one
// for its scaled probabilities. fast_exp (~1 ulp); e^x below e^-87.3 (under FLT_MIN) counts as 0.
#pragma once
#include <cstdint>

namespace nerve::cpu {

/// log(sum_c e^x_c) = m + log(sum_c e^(x_c - m)), m = max; NaN if any x is NaN, -inf if all are -inf.
float logsumexp_row(const float* x, int64_t n);

/// out[c] = scale * e^(x[c] - lse) - sub   (a row of the cross-entropy gradient, before the target's term)
void softmax_row(const float* x, int64_t n, float lse, float scale, float sub, float* out);

/// out = softmax(x): e^(x - max) stored, then scaled by 1 / their sum (one exponential per element; NaN if any x
/// is NaN, as are rows of all -inf).
void softmax_row_full(const float* x, int64_t n, float* out);

/// out = log_softmax(x) = x - (max + log(sum e^(x - max))) (NaN if any x is NaN, and for rows of all -inf).
void log_softmax_row_full(const float* x, int64_t n, float* out);

/// One row of the softmax backward, y the forward's output: dx = y * (g - sum(g * y)); of the log_softmax
/// backward: dx = g - e^y * sum(g).
void softmax_backward_row(const float* g, const float* y, int64_t n, bool log, float* dx);

}  // namespace nerve::cpu
