// Vectorized f32 exp, sigmoid, tanh, tanh-GELU and ReLU over contiguous arrays (AVX-512 / AVX2 / baseline clones,
// one picked per CPU), for the elementwise ops; glibc's scalar expf / tanhf do not vectorize.
#pragma once
#include <cstdint>

#include "backend/cpu/fast_math.h"

namespace nerve::cpu {

enum class VecUnary { exp, sigmoid, tanh, gelu_tanh, relu };

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
  }
  return x;
}

/// y[i] = op(x[i]) for i < n.
void vec_unary_f32(VecUnary op, const float* x, float* y, int64_t n);

}  // namespace nerve::cpu
