// Gradient clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_), in place on the parameters' grads.
#pragma once
#include <vector>

#include "nerve/tensor/tensor.h"

namespace nerve::optim {

/// Scales all gradients by max_norm / (total_norm + 1e-6) when that is < 1; returns the total norm of all
/// gradients seen as one vector (norm_type 2 by default, infinity for the max norm).
///   double norm = optim::clip_grad_norm_(model->parameters(), 1.0);
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);
/// Clamps every gradient element to [-clip_value, clip_value].
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace nerve::optim
