// Keras layers: each is an nn::Module that learns its input shape when the model is built (Keras's build()).
// Dense uses Keras's initializers (Glorot-uniform kernel, zero bias) and PyTorch's (out, in) weight layout.
// A layer only says what it computes; which layers run together as one fused op is the model's plan (plan.h).
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "nerve/nn/module.h"

namespace nerve::keras {

/// Base of the Keras layers. Shapes exclude the batch dim, as Keras prints them after "None".
class Layer : public nn::Module {
 public:
  /// Creates the weights for `input_shape` and returns the output shape.
  virtual Shape build(const Shape& input_shape) = 0;
  /// "dense", "flatten": the stem of the names summary() prints (dense, dense_1, ...).
  virtual std::string keras_name() const = 0;

  std::optional<Shape> input_shape;  // given on the first layer
  bool built = false;
};
using LayerPtr = std::shared_ptr<Layer>;

/// Applies an activation by Keras name: "relu", "sigmoid", "tanh", "softmax", "gelu", "elu"-less; "" or "linear" = identity.
Tensor apply_activation(const std::string& name, const Tensor& x);

struct DenseOptions {
  bool use_bias = true;
  std::optional<Shape> input_shape;
};
/// Dense(units, activation): y = activation(x W^T + b).  keras::Dense(128, "relu")
LayerPtr Dense(int64_t units, const std::string& activation = "", DenseOptions options = {});
/// Flattens all dims but the batch dim.  keras::Flatten({28, 28})
LayerPtr Flatten(std::optional<Shape> input_shape = std::nullopt);
/// Randomly zeroes inputs with probability `rate` while training (seeded by nerve::manual_seed).
LayerPtr Dropout(double rate);
/// An activation as its own layer.  keras::Activation("relu")
LayerPtr Activation(const std::string& name);
/// y = x * scale + offset, in f32 (u8 images become floats here, batch by batch).  keras::Rescaling(1.0 / 255)
LayerPtr Rescaling(double scale, double offset = 0.0, std::optional<Shape> input_shape = std::nullopt);

// ------------------------------------------------------------------ the layer types (made by the functions above)

/// y = activation(linear(x, weight, bias)); weight (units, in), bias (units) or undefined without use_bias.
class DenseLayer : public Layer {
 public:
  DenseLayer(int64_t units, std::string activation, DenseOptions options);
  Shape build(const Shape& input_shape) override;
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Dense"; }
  std::string keras_name() const override { return "dense"; }
  std::string extra_repr() const override;

  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }
  const std::string& activation() const { return act_; }
  int64_t units() const { return units_; }
  bool use_bias() const { return bias_on_; }

 private:
  Tensor weight_, bias_;
  int64_t units_;
  std::string act_;
  bool bias_on_;
};

/// (N, d1, d2, ...) -> (N, d1 * d2 * ...): a view.
class FlattenLayer : public Layer {
 public:
  explicit FlattenLayer(std::optional<Shape> input_shape);
  Shape build(const Shape& input_shape) override;
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Flatten"; }
  std::string keras_name() const override { return "flatten"; }
};

/// nn::F::dropout(x, rate) while training, x in eval mode.
class DropoutLayer : public Layer {
 public:
  explicit DropoutLayer(double rate);
  Shape build(const Shape& input_shape) override;
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Dropout"; }
  std::string keras_name() const override { return "dropout"; }
  double rate() const { return rate_; }

 private:
  double rate_;
};

/// apply_activation(activation, x).
class ActivationLayer : public Layer {
 public:
  explicit ActivationLayer(std::string activation);
  Shape build(const Shape& input_shape) override;
  Tensor forward(const Tensor& x) override { return apply_activation(act_, x); }
  std::string type_name() const override { return "Activation"; }
  std::string keras_name() const override { return "activation"; }

  const std::string& activation() const { return act_; }

 private:
  std::string act_;
};

/// y = x * scale + offset in f32; uint8 x is converted in one pass (no gradient flows into integer data).
class RescalingLayer : public Layer {
 public:
  RescalingLayer(double scale, double offset, std::optional<Shape> input_shape);
  Shape build(const Shape& input_shape) override;
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Rescaling"; }
  std::string keras_name() const override { return "rescaling"; }

  double scale() const { return scale_; }
  double offset() const { return offset_; }

 private:
  double scale_, offset_;
};

}  // namespace nerve::keras
