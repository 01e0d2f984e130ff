// Keras layers on top of nerve's ops: Dense, Flatten, Dropout, Activation, Rescaling. Each forward is the
// layer's plain meaning; the fused ops that run several layers at once are chosen by the model's plan (plan.cpp).
#include "nerve/keras/layers.h"

#include <cmath>
#include <sstream>

#include "nerve/nn/init.h"
#include "nerve/nn/layers.h"
#include "nerve/ops/ops.h"

namespace nerve::keras {

Tensor apply_activation(const std::string& name, const Tensor& x) {
  if (name.empty() || name == "linear") return x;
  if (name == "relu") return relu(x);
  if (name == "sigmoid") return sigmoid(x);
  if (name == "tanh") return tanh(x);
  if (name == "softmax") return softmax(x, -1);
  if (name == "gelu") return gelu(x);
  if (name == "leaky_relu") return leaky_relu(x, 0.2);  // Keras's default alpha
  NERVE_CHECK(false, "activation: unknown activation '", name,
              "' (expected relu, sigmoid, tanh, softmax, gelu, leaky_relu or linear)");
  return x;
}

// ------------------------------------------------------------------ Dense
DenseLayer::DenseLayer(int64_t units, std::string act, DenseOptions o)
    : units_(units), act_(std::move(act)), bias_on_(o.use_bias) {
  NERVE_CHECK(units > 0, "Dense: units must be positive, got ", units);
  apply_activation(act_, zeros({1}));  // validates the name now, not at the first batch
  input_shape = o.input_shape;
}

Shape DenseLayer::build(const Shape& in) {
  NERVE_CHECK(!in.empty(), "Dense: needs an input with at least 1 dim (besides the batch dim), got ", to_string(in));
  // Keras: kernel glorot_uniform, bias zeros
  weight_ = register_parameter("weight", nn::init::xavier_uniform_(empty({units_, in.back()})));
  if (bias_on_) bias_ = register_parameter("bias", zeros({units_}));
  built = true;
  Shape out = in;
  out.back() = units_;
  return out;
}

Tensor DenseLayer::forward(const Tensor& x) { return apply_activation(act_, linear(x, weight_, bias_)); }

std::string DenseLayer::extra_repr() const {
  std::ostringstream os;
  os << "units=" << units_ << (act_.empty() ? "" : ", activation=" + act_);
  return os.str();
}

// ------------------------------------------------------------------ Flatten
FlattenLayer::FlattenLayer(std::optional<Shape> s) { input_shape = std::move(s); }

Shape FlattenLayer::build(const Shape& in) {
  built = true;
  return {numel(in)};
}

Tensor FlattenLayer::forward(const Tensor& x) { return x.dim() <= 1 ? x.reshape({-1, 1}) : flatten(x, 1); }

// ------------------------------------------------------------------ Dropout
DropoutLayer::DropoutLayer(double rate) : rate_(rate) {
  NERVE_CHECK(rate >= 0 && rate < 1, "Dropout: rate must be in [0, 1), got ", rate);
}

Shape DropoutLayer::build(const Shape& in) {
  built = true;
  return in;
}

Tensor DropoutLayer::forward(const Tensor& x) { return nn::F::dropout(x, rate_, is_training()); }

// ------------------------------------------------------------------ Activation
ActivationLayer::ActivationLayer(std::string name) : act_(std::move(name)) { apply_activation(act_, zeros({1})); }

Shape ActivationLayer::build(const Shape& in) {
  built = true;
  return in;
}

// ------------------------------------------------------------------ Rescaling
RescalingLayer::RescalingLayer(double scale, double offset, std::optional<Shape> s) : scale_(scale), offset_(offset) {
  input_shape = std::move(s);
}

Shape RescalingLayer::build(const Shape& in) {
  built = true;
  return in;
}

Tensor RescalingLayer::forward(const Tensor& x) { return rescale(x, scale_, offset_); }

// ------------------------------------------------------------------ factories
LayerPtr Dense(int64_t units, const std::string& activation, DenseOptions options) {
  return std::make_shared<DenseLayer>(units, activation, std::move(options));
}
LayerPtr Flatten(std::optional<Shape> input_shape) { return std::make_shared<FlattenLayer>(std::move(input_shape)); }
LayerPtr Dropout(double rate) { return std::make_shared<DropoutLayer>(rate); }
LayerPtr Activation(const std::string& name) { return std::make_shared<ActivationLayer>(name); }
LayerPtr Rescaling(double scale, double offset, std::optional<Shape> input_shape) {
  return std::make_shared<RescalingLayer>(scale, offset, std::move(input_shape));
}

}  // namespace nerve::keras
