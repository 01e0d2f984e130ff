// Fused optimizer update kernels (one pass over p, g and the state), compiled for AVX-512, AVX2 and baseline
// x86-64 and picked at load time by the CPU (GCC function multiversioning).
#pragma once
#include <cstdint>

namespace nerve::cpu {

struct AdamScalars {
  double beta1, beta2, eps, weight_decay;
  double lr_decay;   // AdamW: p *= 1 - lr * wd
  double neg_step;   // -lr / (1 - beta1^t)
  double bc2_sqrt;   // sqrt(1 - beta2^t)
  bool coupled_wd;   // Adam: g += wd * p
  bool decoupled_wd; // AdamW
};

// p, g, m, v, vmax: (n); vmax may be null (no amsgrad)
void adam_step(float* p, const float* g, float* m, float* v, float* vmax, int64_t n, const AdamScalars& s);
void adam_step(double* p, const double* g, double* m, double* v, double* vmax, int64_t n, const AdamScalars& s);

struct SgdScalars {
  double neg_lr, momentum, dampening, weight_decay;
  bool first;     // the momentum buffer starts as the first gradient
  bool nesterov;
};

// torch.optim.SGD: d = g + wd p; with momentum b = first ? d : mom b + (1 - dampening) d, d = nesterov ? d + mom b : b;
// p += -lr d. b is null without momentum.
void sgd_step(float* p, const float* g, float* b, int64_t n, const SgdScalars& s);
void sgd_step(double* p, const double* g, double* b, int64_t n, const SgdScalars& s);

}  // namespace nerve::cpu
