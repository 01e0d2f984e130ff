// The f32 kernels of the unary ops with f32 formulas (see unary_kernels.h): generated from unary_ops.def.
#include "backend/cpu/unary_kernels.h"

#include <algorithm>

#include "core/simd_clones.h"
#include "nerve/core/param_macros.h"

namespace nerve::cpu {

namespace {

// Per op: one clone set for the forward and one for the backward (target_clones takes no templates). The
// parameters are bound by name as floats (NERVE_BIND_F32), so the formulas read as in the table.
#define NERVE_UNARY(name, params, ints, domain, saves, fwd, bwd)
#define NERVE_UNARY_HIDDEN NERVE_UNARY_FAST
#define NERVE_UNARY_FAST(name, params, ints, domain, saves, fwd, bwd, fwd32, bwd32)                       \
  NERVE_SIMD_CLONES_V void name##_fwd(const float* xs, float* ys, int64_t n, const float* p) {           \
    NERVE_BIND(float, params)                                                                          \
    _Pragma("omp simd") for (int64_t i = 0; i < n; ++i) {                                              \
      const float x = xs[i];                                                                           \
      ys[i] = (fwd32);                                                                                 \
    }                                                                                                  \
  }                                                                                                    \
  NERVE_SIMD_CLONES_V void name##_bwd(const float* ds, const float* ss, float* dx, int64_t n, const float* p) { \
    NERVE_BIND(float, params)                                                                          \
    _Pragma("omp simd") for (int64_t i = 0; i < n; ++i) {                                              \
      [[maybe_unused]] const float d = ds[i], saves = ss[i];                                           \
      dx[i] = (bwd32);                                                                                 \
    }                                                                                                  \
  }
#include "nerve/core/unary_ops.def"
#undef NERVE_UNARY
#undef NERVE_UNARY_FAST
#undef NERVE_UNARY_HIDDEN

}  // namespace

bool has_f32_kernel(UnaryOp op) {
  switch (op) {
#define NERVE_UNARY(name, ...) \
  case UnaryOp::name: return false;
#define NERVE_UNARY_FAST(name, ...) \
  case UnaryOp::name: return true;
#define NERVE_UNARY_HIDDEN NERVE_UNARY_FAST
#include "nerve/core/unary_ops.def"
#undef NERVE_UNARY
#undef NERVE_UNARY_FAST
#undef NERVE_UNARY_HIDDEN
  }
  return false;
}

// the contiguous kernels
namespace {

void forward_contig(UnaryOp op, const float* x, float* y, int64_t n, const float* p) {
  switch (op) {
#define NERVE_UNARY(name, ...) \
  case UnaryOp::name: break;
#define NERVE_UNARY_FAST(name, ...) \
  case UnaryOp::name: return name##_fwd(x, y, n, p);
#define NERVE_UNARY_HIDDEN NERVE_UNARY_FAST
#include "nerve/core/unary_ops.def"
#undef NERVE_UNARY
#undef NERVE_UNARY_FAST
#undef NERVE_UNARY_HIDDEN
  }
}

void backward_contig(UnaryOp op, const float* d, const float* s, float* dx, int64_t n, const float* p) {
  switch (op) {
#define NERVE_UNARY(name, ...) \
  case UnaryOp::name: break;
#define NERVE_UNARY_FAST(name, ...) \
  case UnaryOp::name: return name##_bwd(d, s, dx, n, p);
#define NERVE_UNARY_HIDDEN NERVE_UNARY_FAST
#include "nerve/core/unary_ops.def"
#undef NERVE_UNARY
#undef NERVE_UNARY_FAST
#undef NERVE_UNARY_HIDDEN
  }
}

}  // namespace

// Strided rows go through the same compiled kernels in blocks copied to the stack, so every layout gives the
// same values (and each op needs no strided loop of its own).
constexpr int64_t kBlock = 256;

void unary_forward_f32(UnaryOp op, const float* x, int64_t sx, float* y, int64_t sy, int64_t n, const float* p) {
  if (sx == 1 && sy == 1) return forward_contig(op, x, y, n, p);
  alignas(64) float xb[kBlock], yb[kBlock];
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t m = std::min(kBlock, n - b);
    for (int64_t i = 0; i < m; ++i) xb[i] = x[(b + i) * sx];
    forward_contig(op, xb, yb, m, p);
    for (int64_t i = 0; i < m; ++i) y[(b + i) * sy] = yb[i];
  }
}

void unary_backward_f32(UnaryOp op, const float* d, int64_t sd, const float* s, int64_t ss, float* dx, int64_t sdx,
                        int64_t n, const float* p) {
  if (sd == 1 && ss == 1 && sdx == 1) return backward_contig(op, d, s, dx, n, p);
  // other layouts, and one gradient for the whole row (sd = 0: the backward of a sum or a mean)
  alignas(64) float db[kBlock], sb[kBlock], ob[kBlock];
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t m = std::min(kBlock, n - b);
    for (int64_t i = 0; i < m; ++i) db[i] = d[(b + i) * sd], sb[i] = s[(b + i) * ss];
    backward_contig(op, db, sb, ob, m, p);
    for (int64_t i = 0; i < m; ++i) dx[(b + i) * sdx] = ob[i];
  }
}

NERVE_SIMD_CLONES_V void clamp_f32(const float* x, float* y, int64_t n, float lo, float hi) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) y[i] = clamp_one(x[i], lo, hi);
}

}  // namespace nerve::cpu
