#include "backend/cpu/unary_kernels.h"

#include "backend/cpu/simd_clones.h"

namespace nerve::cpu {

namespace {

// One clone set per op (target_clones takes no templates); each inlines the scalar definition of its op.
#define NERVE_UNARY_CLONE(op)                                          \
  NERVE_SIMD_CLONES_V void op##_f32(const float* x, float* y, int64_t n) { \
    _Pragma("omp simd") for (int64_t i = 0; i < n; ++i) y[i] = vec_unary_one(VecUnary::op, x[i]); \
  }
NERVE_UNARY_CLONE(exp)
NERVE_UNARY_CLONE(sigmoid)
NERVE_UNARY_CLONE(tanh)
NERVE_UNARY_CLONE(gelu_tanh)
NERVE_UNARY_CLONE(relu)
NERVE_UNARY_CLONE(log)
NERVE_UNARY_CLONE(sqrt)
NERVE_UNARY_CLONE(abs)
NERVE_UNARY_CLONE(gelu_erf)
#undef NERVE_UNARY_CLONE

}  // namespace

void vec_unary_f32(VecUnary op, const float* x, float* y, int64_t n) {
  switch (op) {
    case VecUnary::exp: return exp_f32(x, y, n);
    case VecUnary::sigmoid: return sigmoid_f32(x, y, n);
    case VecUnary::tanh: return tanh_f32(x, y, n);
    case VecUnary::gelu_tanh: return gelu_tanh_f32(x, y, n);
    case VecUnary::relu: return relu_f32(x, y, n);
    case VecUnary::log: return log_f32(x, y, n);
    case VecUnary::sqrt: return sqrt_f32(x, y, n);
    case VecUnary::gelu_erf: return gelu_erf_f32(x, y, n);
    case VecUnary::abs: return abs_f32(x, y, n);
  }
}

NERVE_SIMD_CLONES_V void clamp_f32(const float* x, float* y, int64_t n, float lo, float hi) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = clamp_one(x[i], lo, hi);
}

NERVE_SIMD_CLONES_V void leaky_relu_f32(const float* x, float* y, int64_t n, float slope) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = leaky_relu_one(x[i], slope);
}

NERVE_SIMD_CLONES_V void gelu_erf_backward_f32(const float* g, int64_t g_stride, const float* x, float* dx,
                                               int64_t n) {
  if (g_stride == 0) {  // one gradient for the whole row (the backward of a sum or a mean)
    const float gv = g[0];
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) dx[i] = gv * gelu_erf_grad(x[i]);
    return;
  }
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) dx[i] = g[i] * gelu_erf_grad(x[i]);
}

}  // namespace nerve::cpu
