// Activation modules: thin wrappers over the ops in nerve/ops/ops.h, with PyTorch's reprs.
#pragma once
#include <cstdint>
#include <string>

#include "nerve/nn/module.h"

namespace nerve::nn {

/// max(x, 0).  seq->push_back(std::make_shared<nn::ReLU>());
class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ReLU"; }
};

/// min(max(x, 0), 6) (MobileNetV2's activation).  std::make_shared<nn::ReLU6>()
class ReLU6 : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ReLU6"; }
};

/// x for x > 0, negative_slope * x otherwise.  std::make_shared<nn::LeakyReLU>(0.2)
class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : negative_slope_(negative_slope) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "LeakyReLU"; }
  std::string extra_repr() const override;

 private:
  double negative_slope_;
};

/// 1 / (1 + exp(-x)).
class Sigmoid : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Sigmoid"; }
};

class Tanh : public Module {
 public:
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Tanh"; }
};

/// x * Phi(x): the exact (erf) form, or approximate = "tanh" for PyTorch's tanh approximation.
class GELU : public Module {
 public:
  explicit GELU(std::string approximate = "none");
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "GELU"; }
  std::string extra_repr() const override { return "approximate='" + approximate_ + "'"; }

 private:
  std::string approximate_;
};

/// softmax along dim (default -1, the class dim of a (N, C) batch).  std::make_shared<nn::Softmax>(1)
/// A Keras-style front end may detect a final Softmax (std::dynamic_pointer_cast<nn::Softmax>) and train on
/// the logits before it with F::sparse_categorical_crossentropy_from_logits (see nerve/nn/loss.h).
class Softmax : public Module {
 public:
  explicit Softmax(int64_t dim = -1) : dim_(dim) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Softmax"; }
  std::string extra_repr() const override { return "dim=" + std::to_string(dim_); }
  int64_t dim() const { return dim_; }

 private:
  int64_t dim_;
};

class LogSoftmax : public Module {
 public:
  explicit LogSoftmax(int64_t dim = -1) : dim_(dim) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "LogSoftmax"; }
  std::string extra_repr() const override { return "dim=" + std::to_string(dim_); }
  int64_t dim() const { return dim_; }

 private:
  int64_t dim_;
};

}  // namespace nerve::nn
