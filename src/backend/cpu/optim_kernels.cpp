// Adam / AdamW and SGD update kernels. The loop has no branches (variants are template parameters) and restrict
// pointers, so each target_clones version vectorizes at its full width.
#include "backend/cpu/optim_kernels.h"
#include "core/simd_clones.h"

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

void adam_f64(double* p, const double* g, double* m, double* v, double* vmax, int64_t n,
                                const AdamScalars& s) {
  adam_dispatch(p, g, m, v, vmax, n, s);
}

template <class T, bool kWd, bool kMom, bool kFirst, bool kNesterov>
[[gnu::always_inline]] inline void sgd_loop(T* __restrict p, const T* __restrict g, T* __restrict b, int64_t n,
                                            const SgdScalars& s) {
  const T neg_lr = T(s.neg_lr), mom = T(s.momentum), damp = T(1.0 - s.dampening), wd = T(s.weight_decay);
  for (int64_t i = 0; i < n; ++i) {
    T d = g[i];
    if constexpr (kWd) d = d + wd * p[i];
    if constexpr (kMom) {
      const T bi = kFirst ? d : b[i] * mom + damp * d;
      b[i] = bi;
      d = kNesterov ? d + mom * bi : bi;
    }
    p[i] = p[i] + neg_lr * d;
  }
}

template <class T, bool kWd>
[[gnu::always_inline]] inline void sgd_dispatch_mom(T* p, const T* g, T* b, int64_t n, const SgdScalars& s) {
  if (!b) return sgd_loop<T, kWd, false, false, false>(p, g, b, n, s);
  if (s.first) {
    if (s.nesterov) return sgd_loop<T, kWd, true, true, true>(p, g, b, n, s);
    return sgd_loop<T, kWd, true, true, false>(p, g, b, n, s);
  }
  if (s.nesterov) return sgd_loop<T, kWd, true, false, true>(p, g, b, n, s);
  sgd_loop<T, kWd, true, false, false>(p, g, b, n, s);
}

template <class T>
[[gnu::always_inline]] inline void sgd_dispatch(T* p, const T* g, T* b, int64_t n, const SgdScalars& s) {
  if (s.weight_decay != 0.0) return sgd_dispatch_mom<T, true>(p, g, b, n, s);
  sgd_dispatch_mom<T, false>(p, g, b, n, s);
}

NERVE_SIMD_CLONES void sgd_f32(float* p, const float* g, float* b, int64_t n, const SgdScalars& s) {
  sgd_dispatch(p, g, b, n, s);
}

// f64 (gradient checks, small): one plain version, no clones
void sgd_f64(double* p, const double* g, double* b, int64_t n, const SgdScalars& s) {
  sgd_dispatch(p, g, b, n, s);
}

}  // namespace

void sgd_step(float* p, const float* g, float* b, int64_t n, const SgdScalars& s) {
  parallel_for(n, kParallelGrain, [&](int64_t lo, int64_t hi) { sgd_f32(p + lo, g + lo, b ? b + lo : nullptr, hi - lo, s); });
}

void sgd_step(double* p, const double* g, double* b, int64_t n, const SgdScalars& s) {
  parallel_for(n, kParallelGrain, [&](int64_t lo, int64_t hi) { sgd_f64(p + lo, g + lo, b ? b + lo : nullptr, hi - lo, s); });
}

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
