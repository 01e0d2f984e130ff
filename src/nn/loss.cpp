// nn::functional's PyTorch losses (option structs over the ops of nerve/ops/loss.h) and the loss modules.
#include "nerve/nn/loss.h"

#include "nerve/ops/loss.h"

namespace nerve::nn {

namespace functional {

Tensor nll_loss(const Tensor& input, const Tensor& target, const NLLLossOptions& o) {
  return nerve::nll_loss(input, target, o.weight, o.ignore_index, o.reduction);
}
Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyOptions& o) {
  return nerve::cross_entropy(input, target, o.weight, o.ignore_index, o.reduction, o.label_smoothing);
}

}  // namespace functional

// ------------------------------------------------------------------ modules
Tensor MSELoss::forward(const Tensor& x, const Tensor& t) { return functional::mse_loss(x, t, reduction_); }
Tensor L1Loss::forward(const Tensor& x, const Tensor& t) { return functional::l1_loss(x, t, reduction_); }
Tensor HuberLoss::forward(const Tensor& x, const Tensor& t) { return functional::huber_loss(x, t, reduction_, delta_); }
Tensor NLLLoss::forward(const Tensor& x, const Tensor& t) { return functional::nll_loss(x, t, options_); }
Tensor CrossEntropyLoss::forward(const Tensor& x, const Tensor& t) { return functional::cross_entropy(x, t, options_); }
Tensor BCELoss::forward(const Tensor& x, const Tensor& t) {
  return functional::binary_cross_entropy(x, t, weight_, reduction_);
}
Tensor BCEWithLogitsLoss::forward(const Tensor& x, const Tensor& t) {
  return functional::binary_cross_entropy_with_logits(x, t, weight_, reduction_, pos_weight_);
}

}  // namespace nerve::nn
