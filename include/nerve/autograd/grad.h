// Gradient bookkeeping on leaf tensors, shared by nn::Module and optim::Optimizer: zero_grad.
#pragma once
#include <span>

#include "nerve/tensor/tensor.h"

namespace nerve {

/// Clears the gradients of `params`: set to undefined (set_to_none, PyTorch's default) or zeroed in place.
/// Parameters without a gradient are left alone. Module::zero_grad and Optimizer::zero_grad call this.
///   zero_grad(model->parameters());
void zero_grad(std::span<const Tensor> params, bool set_to_none = true);

}  // namespace nerve
