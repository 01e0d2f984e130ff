// Vectorized f32 exp, log, sqrt, sigmoid, tanh, GELU (erf and tanh forms) and ReLU over contiguous arrays (AVX-512 / AVX2 / baseline clones,
// one picked per CPU), for the elementwise ops; glibc's scalar expf / tanhf do not vectorize.
#pragma once
#include <cstdint>

#include "backend/cpu/fast_math.h"

namespace nerve::cpu {

enum class VecUnary { exp, sigmoid, tanh, gelu_tanh, relu, log, sqrt, gelu_erf, abs };

/// PyTorch's approximate='tanh' GELU, 0.5 x (1 + tanh(z)) with z = sqrt(2/pi) (x + 0.044715 x^3), written as
/// x / (1 + e^(-2z)): the same function without the cancellation of 1 + tanh(z) for negative x.
inline float gelu_tanh_fast(float x) {
  return x / (1.0f + exp_full(-2.0f * 0.7978845608028654f * (x + 0.044715f * x * x * x)));
}

/// One element, the same function as vec_unary_f32 computes (for strided rows).
inline float vec_unary_one(VecUnary op, float x) {
  switch (op) {
    case VecUnary::exp: return exp_full(x);
    case VecUnary::sigmoid: return 1.0f / (1.0f + exp_full(-x));
    case VecUnary::tanh: return fast_tanh(x);
    case VecUnary::gelu_tanh: return gelu_tanh_fast(x);
    case VecUnary::relu: return x > 0.0f ? x : x != x ? x : 0.0f;  // NaN stays NaN, as torch.relu
    case VecUnary::log: return log_full(x);
    case VecUnary::sqrt: return __builtin_sqrtf(x);  // (the kernel sources are built with -fno-math-errno)
    case VecUnary::gelu_erf: return gelu_erf(x);
    case VecUnary::abs: return __builtin_fabsf(x);  // abs(-0) = +0, as torch.abs
  }
  return x;
}

/// y[i] = op(x[i]) for i < n.
void vec_unary_f32(VecUnary op, const float* x, float* y, int64_t n);

/// y = min(max(x, lo), hi) (pass -inf / inf for a missing bound; NaN stays NaN), as torch.clamp.
inline float clamp_one(float x, float lo, float hi) {
  const float r = x < lo ? lo : x;
  return r > hi ? hi : r;
}
void clamp_f32(const float* x, float* y, int64_t n, float lo, float hi);
/// y = x > 0 ? x : slope x.
inline float leaky_relu_one(float x, float slope) { return x > 0.0f ? x : x * slope; }
void leaky_relu_f32(const float* x, float* y, int64_t n, float slope);

/// dx[i] = g[i * g_stride] * GELU'(x[i]) for i < n (approximate='none'); g_stride is 1, or 0 for one gradient.
void gelu_erf_backward_f32(const float* g, int64_t g_stride, const float* x, float* dx, int64_t n);

}  // namespace nerve::cpu
