// Loss functions: PyTorch's (mse, l1, huber, nll, cross_entropy fused with softmax, binary cross-entropy on
// probabilities and on logits) and Keras's probability-space losses (clipped to [1e-7, 1 - 1e-7]), as functions
// in nn::functional (alias nerve::F) and as modules.
#pragma once
#include <cstdint>
#include <string>

#include "nerve/nn/module.h"
#include "nerve/ops/loss.h"

namespace nerve::nn {

/// How per-element losses are combined: kept ('none'), averaged ('mean'), or added ('sum').
using Reduction = nerve::Reduction;  // none, mean, sum (nerve/ops/loss.h)
using nerve::reduction_name;

struct NLLLossOptions {
  Tensor weight{};              // (C) per-class weights, optional
  int64_t ignore_index = -100;  // targets equal to this contribute nothing (and do not count in 'mean')
  Reduction reduction = Reduction::mean;
};

struct CrossEntropyOptions {
  Tensor weight{};              // (C) per-class weights, optional
  int64_t ignore_index = -100;  // class-index targets only
  Reduction reduction = Reduction::mean;
  double label_smoothing = 0.0;  // in [0, 1]: mixes the target with the uniform distribution
};

/// Keras's backend epsilon: probabilities are clipped to [kKerasEpsilon, 1 - kKerasEpsilon] before the log.
inline constexpr double kKerasEpsilon = 1e-7;

namespace functional {

// ------------------------------------------------------------------ PyTorch losses (input, target) order
/// (input - target)^2.  Tensor l = F::mse_loss(pred, y);  // pred, y: same shape and dtype
using nerve::mse_loss;
/// |input - target|.
using nerve::l1_loss;
/// 0.5 d^2 if |d| < delta else delta (|d| - 0.5 delta), d = input - target.
using nerve::huber_loss;
/// -input[n, target[n]] (times weight[target[n]]); input: (N, C), (C) or (N, C, d1, ...) log-probabilities,
/// target: int64 (or int32) class indices of shape (N), () or (N, d1, ...).
///   Tensor l = F::nll_loss(log_softmax(logits, 1), labels, {.ignore_index = 0});
Tensor nll_loss(const Tensor& input, const Tensor& target, const NLLLossOptions& options = {});
/// Fused log_softmax + nll_loss over class dim 1 (one forward and one backward kernel).
/// target: class indices as for nll_loss, or class probabilities with the shape and dtype of input.
///   Tensor l = F::cross_entropy(logits, labels, {.label_smoothing = 0.1});  // logits (N, C), labels (N) i64
Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyOptions& options = {});
/// -(t log p + (1 - t) log(1 - p)) with each log clamped to >= -100 (PyTorch); input are probabilities.
using nerve::binary_cross_entropy;
/// binary_cross_entropy(sigmoid(input), target) computed stably: max(x, 0) - x t + log(1 + exp(-|x|)).
/// pos_weight (broadcast to the input, usually one per class on the last dim) weighs the positive term, as
/// PyTorch's: (1 - t) x + (1 + (pos_weight - 1) t) (log(1 + e^-|x|) + max(-x, 0)).
using nerve::binary_cross_entropy_with_logits;

// ------------------------------------------------------------------ Keras losses (y_pred, y_true), class axis -1
// Reduction::mean is Keras's "sum_over_batch_size"; Reduction::none gives one loss per sample (the last axis
// is reduced, as Keras's loss functions do).

/// -log(clip(p[label])) with p = y_pred / sum(y_pred, -1); y_pred: (..., C) probabilities, y_true: (...) labels.
/// from_logits = true: y_pred are logits and the fused cross_entropy is used (exact and stable).
///   Tensor l = F::sparse_categorical_crossentropy(softmax(logits, -1), labels);
Tensor sparse_categorical_crossentropy(const Tensor& y_pred, const Tensor& y_true, bool from_logits = false,
                                       Reduction reduction = Reduction::mean);
/// The fused form a front end uses when the model ends in Softmax: pass the logits before it.
///   if (std::dynamic_pointer_cast<nn::Softmax>(model->at(-1))) loss = F::sparse_categorical_crossentropy_from_logits(
///       (*model->slice(0, -1))(x), y);
Tensor sparse_categorical_crossentropy_from_logits(const Tensor& logits, const Tensor& y_true,
                                                   Reduction reduction = Reduction::mean);
/// -sum(y_true * log(clip(p)), -1) with p = y_pred / sum(y_pred, -1); y_true: one-hot or soft targets, same
/// shape and dtype as y_pred. label_smoothing mixes y_true with 1/C.
Tensor categorical_crossentropy(const Tensor& y_pred, const Tensor& y_true, bool from_logits = false,
                                double label_smoothing = 0.0, Reduction reduction = Reduction::mean);
/// mean over the last axis of -(t log p + (1 - t) log(1 - p)), p = clip(y_pred, eps, 1 - eps).
Tensor binary_crossentropy(const Tensor& y_pred, const Tensor& y_true, bool from_logits = false,
                           Reduction reduction = Reduction::mean);
/// mean over the last axis of (y_pred - y_true)^2.
Tensor mean_squared_error(const Tensor& y_pred, const Tensor& y_true, Reduction reduction = Reduction::mean);
inline Tensor mse(const Tensor& y_pred, const Tensor& y_true, Reduction reduction = Reduction::mean) {
  return mean_squared_error(y_pred, y_true, reduction);
}

}  // namespace functional

/// Base of the loss modules: forward(input, target).
///   nn::CrossEntropyLoss ce;  Tensor l = ce(logits, labels);
class Loss : public Module {
 public:
  using Module::forward;
  virtual Tensor forward(const Tensor& input, const Tensor& target) = 0;
  Tensor operator()(const Tensor& input, const Tensor& target) { return forward(input, target); }
};

class MSELoss : public Loss {
 public:
  explicit MSELoss(Reduction reduction = Reduction::mean) : reduction_(reduction) {}
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "MSELoss"; }

 private:
  Reduction reduction_;
};

class L1Loss : public Loss {
 public:
  explicit L1Loss(Reduction reduction = Reduction::mean) : reduction_(reduction) {}
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "L1Loss"; }

 private:
  Reduction reduction_;
};

class HuberLoss : public Loss {
 public:
  explicit HuberLoss(Reduction reduction = Reduction::mean, double delta = 1.0)
      : reduction_(reduction), delta_(delta) {}
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "HuberLoss"; }

 private:
  Reduction reduction_;
  double delta_;
};

class NLLLoss : public Loss {
 public:
  explicit NLLLoss(NLLLossOptions options = {}) : options_(std::move(options)) {}
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "NLLLoss"; }

 private:
  NLLLossOptions options_;
};

class CrossEntropyLoss : public Loss {
 public:
  explicit CrossEntropyLoss(CrossEntropyOptions options = {}) : options_(std::move(options)) {}
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "CrossEntropyLoss"; }

 private:
  CrossEntropyOptions options_;
};

class BCELoss : public Loss {
 public:
  explicit BCELoss(Tensor weight = Tensor(), Reduction reduction = Reduction::mean)
      : weight_(std::move(weight)), reduction_(reduction) {}
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "BCELoss"; }

 private:
  Tensor weight_;
  Reduction reduction_;
};

class BCEWithLogitsLoss : public Loss {
 public:
  explicit BCEWithLogitsLoss(Tensor weight = Tensor(), Reduction reduction = Reduction::mean,
                             Tensor pos_weight = Tensor())
      : weight_(std::move(weight)), reduction_(reduction), pos_weight_(std::move(pos_weight)) {}
  Tensor forward(const Tensor& input, const Tensor& target) override;
  std::string type_name() const override { return "BCEWithLogitsLoss"; }

 private:
  Tensor weight_;
  Reduction reduction_;
  Tensor pos_weight_;
};

namespace F = functional;

}  // namespace nerve::nn

namespace nerve {
namespace F = nn::functional;
}  // namespace nerve
