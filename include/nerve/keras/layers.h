// Keras layers: each is an nn::Module that learns its input shape when the model is built (Keras's build()).
// Dense uses Keras's initializers (Glorot-uniform kernel, zero bias) and PyTorch's (out, in) weight layout.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "nerve/nn/module.h"

namespace nerve::keras {

/// Base of the Keras layers. Shapes exclude the batch dim, as Keras prints them after "None".
class Layer : public nn::Module {
 public:
  /// Creates the weights for `input_shape` and returns the output shape.
  virtual Shape build(const Shape& input_shape) = 0;
  /// "dense", "flatten": the stem of the names summary() prints (dense, dense_1, ...).
  virtual std::string keras_name() const = 0;
  /// The activation applied last ("softmax" lets the model train on logits with a fused loss).
  virtual std::string activation() const { return ""; }
  /// Forward without the final activation (only meaningful when activation() is not empty).
  virtual Tensor forward_logits(const Tensor& x) { return forward(x); }
  /// (scale, offset) if this is a Rescaling layer.
  virtual std::optional<std::pair<double, double>> rescaling() const { return std::nullopt; }
  /// True for Flatten (a reshape: a Rescaling before it can still fuse with the layer after it).
  virtual bool is_flatten() const { return false; }
  /// forward(x * scale + offset) for uint8 x in one fused op (Rescaling fused into Dense), without the final
  /// activation if `logits`; an undefined Tensor where the layer has no such path.
  virtual Tensor forward_u8(const Tensor& /*x*/, double /*scale*/, double /*offset*/, bool /*logits*/) {
    return Tensor();
  }

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

}  // namespace nerve::keras
