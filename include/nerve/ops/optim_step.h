// The optimizers' update steps as in-place ops: one fused pass over the parameter, its gradient and its state
// (torch.optim's single-tensor Adam/AdamW and SGD updates). The optimizers of nerve/optim call these; they are
// registered (as functional forms that update copies) with PyTorch goldens.
#pragma once
#include <cstdint>

#include "nerve/tensor/tensor.h"

namespace nerve {

struct AdamStepOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  bool decoupled_weight_decay = false;  // AdamW
};

/// Adam's update number `step` (1 for the first) of param in place, with its state exp_avg, exp_avg_sq and, for
/// amsgrad, max_exp_avg_sq (else undefined): Adam: d = g + wd p, AdamW: p *= 1 - lr wd, d = g;
/// m = b1 m + (1 - b1) d; v = b2 v + (1 - b2) d^2; v_hat = amsgrad ? (v_max = max(v_max, v)) : v;
/// p -= lr / (1 - b1^t) * m / (sqrt(v_hat) / sqrt(1 - b2^t) + eps). All contiguous, of param's shape and dtype.
void adam_step_(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                const Tensor& max_exp_avg_sq, int64_t step, const AdamStepOptions& options);

struct SgdStepOptions {
  double lr = 1e-2, momentum = 0.0, dampening = 0.0, weight_decay = 0.0;
  bool nesterov = false;
};

/// SGD's update of param in place: d = g + wd p; with a momentum buffer (undefined without momentum)
/// b = first ? d : momentum b + (1 - dampening) d, d = nesterov ? d + momentum b : b; then p -= lr d.
void sgd_step_(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer, bool first,
               const SgdStepOptions& options);

}  // namespace nerve
