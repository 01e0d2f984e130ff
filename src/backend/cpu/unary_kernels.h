// f32 kernels of the elementwise unary ops, made from the f32 formulas of include/nerve/core/unary_ops.def: one
// AVX-512 / AVX2 / baseline clone set per op (forward and backward), each handling contiguous and strided rows with
// the same compiled formula, so every layout and thread count gives the same values. Also clamp's kernel.
#pragma once
#include <cmath>
#include <cstdint>

#include "backend/cpu/fast_math.h"

namespace nerve::cpu {

/// Every op of unary_ops.def, in table order.
enum class UnaryOp {
#define NERVE_UNARY(name, ...) name,
#define NERVE_UNARY_FAST(name, ...) name,
#define NERVE_UNARY_HIDDEN(name, ...) name,
#include "nerve/core/unary_ops.def"
#undef NERVE_UNARY
#undef NERVE_UNARY_FAST
#undef NERVE_UNARY_HIDDEN
};

/// True for the ops with f32 formulas of their own (NERVE_UNARY_FAST / _HIDDEN), which the kernels below handle.
bool has_f32_kernel(UnaryOp op);

/// y[i * sy] = f(x[i * sx]) for i < n. p: the op's parameters (P1 / P2 in the table), as float.
void unary_forward_f32(UnaryOp op, const float* x, int64_t sx, float* y, int64_t sy, int64_t n, const float* p);
/// dx[i * sdx] = the op's backward formula with d = d[i * sd] and s (its saved x or y) = s[i * ss].
void unary_backward_f32(UnaryOp op, const float* d, int64_t sd, const float* s, int64_t ss, float* dx, int64_t sdx,
                        int64_t n, const float* p);

/// PyTorch's approximate='tanh' GELU, 0.5 x (1 + tanh(z)) with z = sqrt(2/pi) (x + 0.044715 x^3), written as
/// x / (1 + e^(-2z)): the same function without the cancellation of 1 + tanh(z) for negative x.
inline float gelu_tanh_fast(float x) {
  return x / (1.0f + exp_full(-2.0f * 0.7978845608028654f * (x + 0.044715f * x * x * x)));
}
/// d/dx of the tanh GELU: 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2), t = tanh(z).
template <class T>
T gelu_tanh_grad(T x) {
  const T k = T(0.7978845608028654), c = T(0.044715);
  const T t = std::tanh(k * (x + c * x * x * x));
  return (T(1) + t) / 2 + x * (T(1) - t * t) * k * (T(1) + 3 * c * x * x) / 2;
}

/// The same derivative for f32 with the vectorizable exp_full instead of libm's tanh (a call per element, ~20x the
/// forward's time): with s = sigmoid(2z) = (1 + t) / 2, 1 - t^2 = 4 s (1 - s), so it is
/// s + 2 sqrt(2/pi) x s (1 - s) (1 + 3 * 0.044715 x^2).
inline float gelu_tanh_grad_fast(float x) {
  const float k = 0.7978845608028654f, c = 0.044715f;
  const float s = 1.0f / (1.0f + exp_full(-2.0f * k * (x + c * x * x * x)));
  return s + 2.0f * k * x * s * (1.0f - s) * (1.0f + 3.0f * c * x * x);
}

/// y = min(max(x, lo), hi) (pass -inf / inf for a missing bound; NaN stays NaN), as torch.clamp.
inline float clamp_one(float x, float lo, float hi) {
  const float r = x < lo ? lo : x;
  return r > hi ? hi : r;
}
void clamp_f32(const float* x, float* y, int64_t n, float lo, float hi);

}  // namespace nerve::cpu
