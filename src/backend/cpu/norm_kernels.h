// batch_norm's training-mode loops over x (N, C, S) (S: the spatial size, 1 for (N, C)), for the channels
// [c0, c1): the per-channel statistics, the normalized output, and the two passes of the backward. Each channel is
// reduced by one thread in a fixed order (sums in double), so a result does not depend on the thread count.
#pragma once
#include <cstdint>

namespace nerve::cpu {

struct BatchNormDims {
  int64_t N, C, S;
};

/// mean[c] and invstd[c] = 1 / sqrt(biased variance + eps); var[c] = the biased variance (two passes)
template <class T>
void batch_norm_stats(const T* x, const BatchNormDims& d, int64_t c0, int64_t c1, double eps, double* mean,
                      double* invstd, double* var);
/// y = (x - mean) * invstd * w + b per channel (w, b: null for 1 and 0)
template <class T>
void batch_norm_forward(const T* x, const BatchNormDims& d, int64_t c0, int64_t c1, const double* mean,
                        const double* invstd, const T* w, const T* b, T* y);
/// sum_dy[c] = sum of dy, sum_dy_xhat[c] = sum of dy * (x - mean) * invstd over the channel
template <class T>
void batch_norm_backward_sums(const T* x, const T* dy, const BatchNormDims& d, int64_t c0, int64_t c1,
                              const double* mean, const double* invstd, double* sum_dy, double* sum_dy_xhat);
/// dx = w * invstd * (dy - sum_dy / n - xhat * sum_dy_xhat / n), n = N * S (w: null for 1)
template <class T>
void batch_norm_backward_dx(const T* x, const T* dy, const BatchNormDims& d, int64_t c0, int64_t c1,
                            const double* mean, const double* invstd, const T* w, const double* sum_dy,
                            const double* sum_dy_xhat, T* dx);

}  // namespace nerve::cpu
