// Losses as ops (PyTorch's torch.nn.functional names and argument orders): each a fused op with its own forward
// and backward kernels (cross_entropy: log-softmax + nll in one pass; the pointwise losses: loss and both input
// gradients in one pass) or a short composition, registered in the op registry. nn::functional and the loss
// modules (nerve/nn/loss.h) take option structs and call these.
#pragma once
#include <cstdint>

#include "nerve/tensor/tensor.h"

namespace nerve {

/// How per-element losses are combined: kept (none), averaged (mean) or added (sum).
enum class Reduction { none, mean, sum };
const char* reduction_name(Reduction r);
/// "none", "mean" or "sum" (throws naming the valid values otherwise).
Reduction reduction_from_name(const std::string& name);

/// (input - target)^2.  mse_loss(pred, y)  // pred, y: same shape and dtype
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean);
/// |input - target|.
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean);
/// 0.5 d^2 if |d| < delta else delta (|d| - 0.5 delta), d = input - target.
Tensor huber_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::mean, double delta = 1.0);
/// -input[n, target[n]] (times weight[target[n]]); input: (N, C), (C) or (N, C, d1, ...) log-probabilities,
/// target: i64 (or i32) class indices of shape (N), () or (N, d1, ...); ignore_index rows count for nothing.
/// (weight is not optional here, so a two-argument call means nn::functional's nll_loss: pass Tensor() for none)
Tensor nll_loss(const Tensor& input, const Tensor& target, const Tensor& weight, int64_t ignore_index = -100,
                Reduction reduction = Reduction::mean);
/// log_softmax + nll_loss over class dim 1 as one fused op (one forward and one backward kernel, no
/// log-probabilities kept). target: class indices as for nll_loss, or class probabilities of input's shape.
/// (weight is not optional here, so a two-argument call means nn::functional's: pass Tensor() for none)
///   cross_entropy(logits, labels, Tensor())  // logits (N, C), labels (N) i64;  or F::cross_entropy(logits, labels)
Tensor cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight, int64_t ignore_index = -100,
                     Reduction reduction = Reduction::mean, double label_smoothing = 0.0);
/// -(t log p + (1 - t) log(1 - p)) with each log clamped to >= -100 (PyTorch); input are probabilities.
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight = Tensor(),
                            Reduction reduction = Reduction::mean);
/// binary_cross_entropy(sigmoid(input), target) computed stably: max(x, 0) - x t + log(1 + exp(-|x|)).
/// pos_weight (broadcast to the input, usually one per class on the last dim) weighs the positive term, as
/// PyTorch's: (1 - t) x + (1 + (pos_weight - 1) t) (log(1 + e^-|x|) + max(-x, 0)).
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target, const Tensor& weight = Tensor(),
                                        Reduction reduction = Reduction::mean, const Tensor& pos_weight = Tensor());

}  // namespace nerve
