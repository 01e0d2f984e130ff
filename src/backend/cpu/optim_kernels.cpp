// Adam / AdamW update kernel. The loop has no branches (variants are template parameters) and restrict
// pointers, so each target_clones version vectorizes at its full width.
#include "backend/cpu/optim_kernels.h"
#include "backend/cpu/simd_clones.h"

#include <algorithm>
#include <cmath>

#include "nerve/core/parallel.h"

namespace nerve::cpu {

namespace {

// torch.optim.Adam(W), single-tensor form:
//   Adam: d = g + wd p;  AdamW: p *= 1 - lr wd, d = g
//   m = b1 m + (1 - b1) d;  v = b2 v + (1 - b2) d^2;  vh = amsgrad ? (vmax = max(vmax, v)) : v
//   p += -lr / (1 - b1^t) * m / (sqrt(vh) / sqrt(1 - b2^t) + eps)   (the inner division as a multiply)
template <class T, bool kCoupled, bool kDecoupled, bool kAms>
[[gnu::always_inline]] inline void adam_loop(T* __restrict p, const T* __restrict g, T* __restrict m,
                                             T* __restrict v, T* __restrict vmax, int64_t n, const AdamScalars& s) {
  const T b1 = T(s.beta1), b2 = T(s.beta2), omb1 = T(1.0 - s.beta1), omb2 = T(1.0 - s.beta2);
  const T wd = T(s.weight_decay), decay = T(s.lr_decay), step = T(s.neg_step), inv_bc2 = T(1.0 / s.bc2_sqrt),
          eps = T(s.eps);
  for (int64_t i = 0; i < n; ++i) {
    T d = g[i];
    if constexpr (kCoupled) d += wd * p[i];
    T pi = p[i];
    if constexpr (kDecoupled) pi *= decay;
    T mi = b1 * m[i] + omb1 * d;
    T vi = b2 * v[i] + omb2 * d * d;
    m[i] = mi;
    v[i] = vi;
    T vh = vi;
    if constexpr (kAms) vh = vmax[i] = std::max(vmax[i], vi);
    p[i] = pi + step * mi / (std::sqrt(vh) * inv_bc2 + eps);  // one division: the divider is the bottleneck
  }
}

template <class T>
[[gnu::always_inline]] inline void adam_dispatch(T* p, const T* g, T* m, T* v, T* vmax, int64_t n,
                                                 const AdamScalars& s) {
  const bool ams = vmax != nullptr;
  if (!ams && !s.coupled_wd && !s.decoupled_wd) return adam_loop<T, false, false, false>(p, g, m, v, vmax, n, s);
  if (!ams && s.decoupled_wd) return adam_loop<T, false, true, false>(p, g, m, v, vmax, n, s);
  if (!ams && s.coupled_wd) return adam_loop<T, true, false, false>(p, g, m, v, vmax, n, s);
  if (s.decoupled_wd) return adam_loop<T, false, true, true>(p, g, m, v, vmax, n, s);
  if (s.coupled_wd) return adam_loop<T, true, false, true>(p, g, m, v, vmax, n, s);
  adam_loop<T, false, false, true>(p, g, m, v, vmax, n, s);
}

NERVE_SIMD_CLONES void adam_f32(float* p, const float* g, float* m, float* v, float* vmax, int64_t n,
                                const AdamScalars& s) {
  adam_dispatch(p, g, m, v, vmax, n, s);
}

NERVE_SIMD_CLONES void adam_f64(double* p, const double* g, double* m, double* v, double* vmax, int64_t n,
                                const AdamScalars& s) {
  adam_dispatch(p, g, m, v, vmax, n, s);
}

}  // namespace

void adam_step(float* p, const float* g, float* m, float* v, float* vmax, int64_t n, const AdamScalars& s) {
  parallel_for(n, kParallelGrain, [&](int64_t b, int64_t e) {
    adam_f32(p + b, g + b, m + b, v + b, vmax ? vmax + b : nullptr, e - b, s);
  });
}

void adam_step(double* p, const double* g, double* m, double* v, double* vmax, int64_t n, const AdamScalars& s) {
  parallel_for(n, kParallelGrain, [&](int64_t b, int64_t e) {
    adam_f64(p + b, g + b, m + b, v + b, vmax ? vmax + b : nullptr, e - b, s);
  });
}

}  // namespace nerve::cpu
