#include "backend/cpu/unary_kernels.h"

#include "backend/cpu/simd_clones.h"

namespace nerve::cpu {

namespace {

// One clone set per op (target_clones takes no templates); each inlines the scalar definition of its op.
NERVE_SIMD_CLONES_V void exp_f32(const float* x, float* y, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = vec_unary_one(VecUnary::exp, x[i]);
}
NERVE_SIMD_CLONES_V void sigmoid_f32(const float* x, float* y, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = vec_unary_one(VecUnary::sigmoid, x[i]);
}
NERVE_SIMD_CLONES_V void tanh_f32(const float* x, float* y, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = vec_unary_one(VecUnary::tanh, x[i]);
}
NERVE_SIMD_CLONES_V void gelu_tanh_f32(const float* x, float* y, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = vec_unary_one(VecUnary::gelu_tanh, x[i]);
}
NERVE_SIMD_CLONES_V void relu_f32(const float* x, float* y, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = vec_unary_one(VecUnary::relu, x[i]);
}

}  // namespace

void vec_unary_f32(VecUnary op, const float* x, float* y, int64_t n) {
  switch (op) {
    case VecUnary::exp: return exp_f32(x, y, n);
    case VecUnary::sigmoid: return sigmoid_f32(x, y, n);
    case VecUnary::tanh: return tanh_f32(x, y, n);
    case VecUnary::gelu_tanh: return gelu_tanh_f32(x, y, n);
    case VecUnary::relu: return relu_f32(x, y, n);
  }
}

}  // namespace nerve::cpu
