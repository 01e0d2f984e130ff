// The loss helpers of the ops layer (ops/loss_util.h) under the names the nn losses use.
#pragma once
#include "nerve/nn/loss.h"
#include "ops/loss_util.h"

namespace nerve::nn::detail {

inline Tensor reduce(const Tensor& loss, Reduction reduction) { return nerve::detail::reduce_loss(loss, reduction); }
using nerve::detail::check_same;
using nerve::detail::class_targets;
using nerve::detail::class_weight;

}  // namespace nerve::nn::detail
