// batch_norm's loops (see norm_kernels.h). Formulas: PyTorch's batch_norm_cpu_collect_stats and
// batch_norm_backward_cpu (aten/src/ATen/native/Normalization.cpp); the variance from a second pass over x - mean.
#include "backend/cpu/norm_kernels.h"

#include <cmath>

namespace nerve::cpu {

namespace {
template <class T>
const T* plane(const T* p, const BatchNormDims& d, int64_t n, int64_t c) {
  return p + (n * d.C + c) * d.S;
}
}  // namespace

template <class T>
void batch_norm_stats(const T* x, const BatchNormDims& d, int64_t c0, int64_t c1, double eps, double* mean,
                      double* invstd, double* var) {
  const double count = double(d.N) * double(d.S);
  for (int64_t c = c0; c < c1; ++c) {
    double sum = 0;
    for (int64_t n = 0; n < d.N; ++n) {
      const T* p = plane(x, d, n, c);
      double s = 0;
#pragma omp simd reduction(+ : s)
      for (int64_t i = 0; i < d.S; ++i) s += double(p[i]);
      sum += s;
    }
    const double mu = sum / count;
    double sq = 0;
    for (int64_t n = 0; n < d.N; ++n) {
      const T* p = plane(x, d, n, c);
      double s = 0;
#pragma omp simd reduction(+ : s)
      for (int64_t i = 0; i < d.S; ++i) {
        const double v = double(p[i]) - mu;
        s += v * v;
      }
      sq += s;
    }
    mean[c] = mu;
    var[c] = sq / count;
    invstd[c] = 1.0 / std::sqrt(var[c] + eps);
  }
}

template <class T>
void batch_norm_forward(const T* x, const BatchNormDims& d, int64_t c0, int64_t c1, const double* mean,
                        const double* invstd, const T* w, const T* b, T* y) {
  for (int64_t c = c0; c < c1; ++c) {
    // y = x * a + shift, a = invstd * w, shift = b - mean * a
    const double a = invstd[c] * (w ? double(w[c]) : 1.0);
    const T scale = T(a), shift = T((b ? double(b[c]) : 0.0) - mean[c] * a);
    for (int64_t n = 0; n < d.N; ++n) {
      const T* p = plane(x, d, n, c);
      T* q = y + (n * d.C + c) * d.S;
#pragma omp simd
      for (int64_t i = 0; i < d.S; ++i) q[i] = p[i] * scale + shift;
    }
  }
}

template <class T>
void batch_norm_backward_sums(const T* x, const T* dy, const BatchNormDims& d, int64_t c0, int64_t c1,
                              const double* mean, const double* invstd, double* sum_dy, double* sum_dy_xhat) {
  for (int64_t c = c0; c < c1; ++c) {
    const double mu = mean[c];
    double s = 0, sx = 0;  // sum dy, sum dy * (x - mean)
    for (int64_t n = 0; n < d.N; ++n) {
      const T *p = plane(x, d, n, c), *g = plane(dy, d, n, c);
      double a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
      for (int64_t i = 0; i < d.S; ++i) {
        a += double(g[i]);
        b += double(g[i]) * (double(p[i]) - mu);
      }
      s += a, sx += b;
    }
    sum_dy[c] = s;
    sum_dy_xhat[c] = sx * invstd[c];
  }
}

template <class T>
void batch_norm_backward_dx(const T* x, const T* dy, const BatchNormDims& d, int64_t c0, int64_t c1,
                            const double* mean, const double* invstd, const T* w, const double* sum_dy,
                            const double* sum_dy_xhat, T* dx) {
  const double count = double(d.N) * double(d.S);
  for (int64_t c = c0; c < c1; ++c) {
    // dx = k * dy - k * sum_dy / n - k * invstd * sum_dy_xhat / n * (x - mean), k = w * invstd
    const double k = (w ? double(w[c]) : 1.0) * invstd[c];
    const double slope = k * invstd[c] * sum_dy_xhat[c] / count;
    const T kt = T(k), st = T(slope), off = T(-k * sum_dy[c] / count + slope * mean[c]);
    for (int64_t n = 0; n < d.N; ++n) {
      const T *p = plane(x, d, n, c), *g = plane(dy, d, n, c);
      T* q = dx + (n * d.C + c) * d.S;
#pragma omp simd
      for (int64_t i = 0; i < d.S; ++i) q[i] = kt * g[i] - st * p[i] + off;
    }
  }
}

#define NERVE_BN_INSTANTIATE(T)                                                                                   \
  template void batch_norm_stats<T>(const T*, const BatchNormDims&, int64_t, int64_t, double, double*, double*,  \
                                    double*);                                                                     \
  template void batch_norm_forward<T>(const T*, const BatchNormDims&, int64_t, int64_t, const double*,           \
                                      const double*, const T*, const T*, T*);                                     \
  template void batch_norm_backward_sums<T>(const T*, const T*, const BatchNormDims&, int64_t, int64_t,          \
                                            const double*, const double*, double*, double*);                      \
  template void batch_norm_backward_dx<T>(const T*, const T*, const BatchNormDims&, int64_t, int64_t,            \
                                          const double*, const double*, const T*, const double*, const double*,   \
                                          T*);
NERVE_BN_INSTANTIATE(float)
NERVE_BN_INSTANTIATE(double)
#undef NERVE_BN_INSTANTIATE

}  // namespace nerve::cpu
