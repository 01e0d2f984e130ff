// Keras layers: each is an nn::Module that learns its input shape when the model is built (Keras's build()).
// Dense uses Keras's initializers (Glorot-uniform kernel, zero bias) and PyTorch's (out, in) weight layout.
// A layer only says what it computes; which layers run together as one fused op is the model's plan (plan.h).
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "nerve/nn/module.h"
#include "nerve/ops/registry.h"

namespace nerve::keras {

/// Base of the Keras layers. Shapes exclude the batch dim, as Keras prints them after "None".
class Layer : public nn::Module {
 public:
  /// Creates the weights for `input_shape` and returns the output shape.
  virtual Shape build(const Shape& input_shape) = 0;
  /// "dense", "flatten": the stem of the names summary() prints (dense, dense_1, ...).
  virtual std::string keras_name() const = 0;
  /// What rebuilds the layer (Keras's get_config): layer_from_config(type_name(), config()) makes an equal layer,
  /// without its weights. A layer without one throws nerve::Error naming it (it cannot be saved in a model file).
  virtual Attrs config() const;

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

/// The layer that type_name `class_name` and `config` describe (Keras's from_config), unbuilt; an unknown class or
/// a bad attribute throws nerve::Error naming it.  layer_from_config("Dense", Attrs().set("units", 10))
LayerPtr layer_from_config(const std::string& class_name, const Attrs& config);

// ------------------------------------------------------------------ the layer types (made by the functions above)

/// y = activation(linear(x, weight, bias)); weight (units, in), bias (units) or undefined without use_bias.
class DenseLayer : public Layer {
 public:
  DenseLayer(int64_t units, std::string activation, DenseOptions options);
  Shape build(const Shape& input_shape) override;
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Dense"; }
  std::string keras_name() const override { return "dense"; }
  Attrs config() const override;
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
  Attrs config() const override;
};

/// nn::F::dropout(x, rate) while training, x in eval mode.
class DropoutLayer : public Layer {
 public:
  explicit DropoutLayer(double rate);
  Shape build(const Shape& input_shape) override;
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Dropout"; }
  std::string keras_name() const override { return "dropout"; }
  Attrs config() const override;
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
  Attrs config() const override;

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
  Attrs config() const override;

  double scale() const { return scale_; }
  double offset() const { return offset_; }

 private:
  double scale_, offset_;
};

// ------------------------------------------------------------------ vision layers (keras/vision_layers.cpp)
// Images are channels-last (N, H, W, C), Keras's default: input_shape {28, 28, 1}. Each layer views its input as
// (N, C, H, W) for nerve's ops and its output back as channels-last, both without copying, so consecutive
// convolution, pooling and normalization layers pass tensors on in the ops' layout.

struct Conv2DOptions {
  Shape strides = {1};
  std::string padding = "valid";  // or "same" (strides 1)
  bool use_bias = true;
  std::optional<Shape> input_shape;
};
/// Conv2D(filters, kernel_size, activation): kernel glorot_uniform, bias zeros (Keras); the weight is stored in
/// PyTorch's (filters, in, kH, kW) layout.  keras::Conv2D(32, {3, 3}, "relu", {.input_shape = Shape{28, 28, 1}})
LayerPtr Conv2D(int64_t filters, const Shape& kernel_size, const std::string& activation = "", Conv2DOptions options = {});
/// MaxPooling2D(pool_size, strides = pool_size), padding "valid".  keras::MaxPooling2D({2, 2})
LayerPtr MaxPooling2D(const Shape& pool_size = {2, 2}, std::optional<Shape> strides = std::nullopt);
/// AveragePooling2D(pool_size, strides = pool_size), padding "valid".
LayerPtr AveragePooling2D(const Shape& pool_size = {2, 2}, std::optional<Shape> strides = std::nullopt);
/// (N, H, W, C) -> (N, C): the mean over H and W.
LayerPtr GlobalAveragePooling2D();
struct BatchNormalizationOptions {
  double momentum = 0.99;  // moving = momentum * moving + (1 - momentum) * batch statistic
  double epsilon = 1e-3;
  std::optional<Shape> input_shape;
};
/// BatchNormalization over the last axis (channels): gamma (ones), beta (zeros) trainable, moving_mean (zeros),
/// moving_variance (ones) updated in training with the batch's mean and biased variance, as Keras.
LayerPtr BatchNormalization(BatchNormalizationOptions options = {});
/// Reshape(target_shape) of each sample (one dim may be -1).  keras::Reshape({28, 28, 1})
LayerPtr Reshape(const Shape& target_shape, std::optional<Shape> input_shape = std::nullopt);

/// A window op on channels-last images: Conv2D, MaxPooling2D, AveragePooling2D.
class Conv2DLayer : public Layer {
 public:
  Conv2DLayer(int64_t filters, const Shape& kernel_size, std::string activation, Conv2DOptions options);
  Shape build(const Shape& input_shape) override;
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Conv2D"; }
  std::string keras_name() const override { return "conv2d"; }
  Attrs config() const override;
  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }
  const std::string& activation() const { return act_; }
  /// The convolution of channels-last x without the activation, as (N, C, H, W) (the plan's conv_pool_relu).
  Tensor conv_nchw(const Tensor& x) const;
  /// relu(max_pool2d(conv_nchw(x), 2)) as one op (conv2d_relu_max_pool2x2), for the plan's conv_pool_relu when the
  /// pooling is MaxPooling2D((2, 2)).
  Tensor conv_relu_max_pool2x2_nchw(const Tensor& x) const;

 private:
  Tensor weight_, bias_;
  int64_t filters_;
  Shape kernel_;
  std::string act_;
  Conv2DOptions o_;
};

class Pooling2DLayer : public Layer {
 public:
  Pooling2DLayer(bool max, const Shape& pool_size, std::optional<Shape> strides);
  Shape build(const Shape& input_shape) override;
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return max_ ? "MaxPooling2D" : "AveragePooling2D"; }
  std::string keras_name() const override { return max_ ? "max_pooling2d" : "average_pooling2d"; }
  Attrs config() const override;
  bool is_max() const { return max_; }
  /// MaxPooling2D((2, 2)) with strides 2
  bool is_max_2x2() const { return max_ && pool_ == Shape{2, 2} && strides_ == Shape{2, 2}; }
  /// The pooling of (N, C, H, W) x, as (N, C, Ho, Wo) (the plan's conv_pool_relu).
  Tensor pool_nchw(const Tensor& x) const;

 private:
  bool max_;
  Shape pool_, strides_;
};

class GlobalAveragePooling2DLayer : public Layer {
 public:
  Shape build(const Shape& input_shape) override;
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "GlobalAveragePooling2D"; }
  std::string keras_name() const override { return "global_average_pooling2d"; }
  Attrs config() const override;
};

class BatchNormalizationLayer : public Layer {
 public:
  explicit BatchNormalizationLayer(BatchNormalizationOptions options);
  Shape build(const Shape& input_shape) override;
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "BatchNormalization"; }
  std::string keras_name() const override { return "batch_normalization"; }
  Attrs config() const override;
  Tensor gamma, beta, moving_mean, moving_variance;

 private:
  BatchNormalizationOptions o_;
};

class ReshapeLayer : public Layer {
 public:
  ReshapeLayer(const Shape& target_shape, std::optional<Shape> input_shape);
  Shape build(const Shape& input_shape) override;
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Reshape"; }
  std::string keras_name() const override { return "reshape"; }
  Attrs config() const override;

 private:
  Shape target_;
};

}  // namespace nerve::keras
