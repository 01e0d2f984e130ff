// Basic layers: Linear (PyTorch's init), Flatten, Dropout, Identity, and the functional dropout.
#pragma once
#include <cstdint>
#include <string>

#include "nerve/nn/module.h"

namespace nerve::nn {

namespace functional {
/// Zeroes each element with probability p and scales the rest by 1/(1-p) when `training`; identity otherwise.
/// The mask comes from the global seeded generator (nerve::rand).  y = F::dropout(x, 0.5, model->is_training());
Tensor dropout(const Tensor& x, double p = 0.5, bool training = true);
}  // namespace functional
namespace F = functional;

struct LinearOptions {
  int64_t in = 0;   // in_features
  int64_t out = 0;  // out_features
  bool bias = true;
  DType dtype = DType::f32;
};

/// y = x W^T + b, W: (out, in) named "weight", b: (out) named "bias". Both start U(-1/sqrt(in), 1/sqrt(in)),
/// PyTorch's default (kaiming_uniform_ with a = sqrt(5)).
///   auto fc = std::make_shared<nn::Linear>(784, 128);  Tensor y = (*fc)(x);  // x: (N, 784) -> (N, 128)
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true, DType dtype = DType::f32);
  explicit Linear(const LinearOptions& o);
  Tensor forward(const Tensor& x) override;  // x: (*, in) -> (*, out)
  std::string type_name() const override { return "Linear"; }
  std::string extra_repr() const override;
  /// Redraws weight and bias with the default initialization.
  void reset_parameters();
  int64_t in_features() const { return options_.in; }
  int64_t out_features() const { return options_.out; }

  Tensor weight;  // (out, in)
  Tensor bias;    // (out), undefined when bias = false

 private:
  LinearOptions options_;
};

/// Flattens dims start_dim..end_dim into one.  nn::Flatten() maps (N, 1, 28, 28) to (N, 784).
class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1) : start_dim_(start_dim), end_dim_(end_dim) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Flatten"; }
  std::string extra_repr() const override;

 private:
  int64_t start_dim_, end_dim_;
};

/// Dropout(p): random zeroing with 1/(1-p) scaling in training mode, identity in eval mode.
///   auto drop = std::make_shared<nn::Dropout>(0.2);
class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Dropout"; }
  std::string extra_repr() const override;
  double p() const { return p_; }

 private:
  double p_;
};

/// Returns its input.
class Identity : public Module {
 public:
  Tensor forward(const Tensor& x) override { return x; }
  std::string type_name() const override { return "Identity"; }
};

}  // namespace nerve::nn

namespace nerve {
namespace F = nn::functional;
}  // namespace nerve
