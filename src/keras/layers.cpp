// Keras layers on top of nerve's ops: Dense, Flatten, Dropout, Activation, Rescaling.
#include "nerve/keras/layers.h"

#include <cmath>
#include <sstream>

#include "nerve/nn/init.h"
#include "nerve/nn/layers.h"
#include "nerve/ops/ops.h"
#include "backend/cpu/convert.h"

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

namespace {

class DenseLayer : public Layer {
 public:
  DenseLayer(int64_t units, std::string act, DenseOptions o) : units_(units), act_(std::move(act)), bias_on_(o.use_bias) {
    NERVE_CHECK(units > 0, "Dense: units must be positive, got ", units);
    apply_activation(act_, zeros({1}));  // validates the name now, not at the first batch
    input_shape = o.input_shape;
  }
  Shape build(const Shape& in) override {
    NERVE_CHECK(!in.empty(), "Dense: needs an input with at least 1 dim (besides the batch dim), got ",
                to_string(in));
    in_ = in.back();
    // Keras: kernel glorot_uniform, bias zeros
    weight = register_parameter("weight", nn::init::xavier_uniform_(empty({units_, in_})));
    if (bias_on_) bias = register_parameter("bias", zeros({units_}));
    built = true;
    Shape out = in;
    out.back() = units_;
    return out;
  }
  Tensor forward_logits(const Tensor& x) override { return linear(x, weight, bias); }
  Tensor forward(const Tensor& x) override {
    if (act_ == "relu") return linear_relu(x, weight, bias);  // one fused op: no separate ReLU pass or node
    return apply_activation(act_, forward_logits(x));
  }
  Tensor forward_u8(const Tensor& x, double scale, double offset, bool logits) override {
    if (weight.dtype() != DType::f32) return Tensor();
    const bool relu = !logits && act_ == "relu";
    Tensor y = linear_u8(x, scale, offset, weight, bias, relu);
    return logits || relu ? y : apply_activation(act_, y);
  }
  std::string activation() const override { return act_; }
  std::string type_name() const override { return "Dense"; }
  std::string keras_name() const override { return "dense"; }
  std::string extra_repr() const override {
    std::ostringstream os;
    os << "units=" << units_ << (act_.empty() ? "" : ", activation=" + act_);
    return os.str();
  }

  Tensor weight, bias;

 private:
  int64_t units_, in_ = 0;
  std::string act_;
  bool bias_on_;
};

class FlattenLayer : public Layer {
 public:
  explicit FlattenLayer(std::optional<Shape> s) { input_shape = std::move(s); }
  Shape build(const Shape& in) override {
    built = true;
    return {numel(in)};
  }
  Tensor forward(const Tensor& x) override { return x.dim() <= 1 ? x.reshape({-1, 1}) : flatten(x, 1); }
  bool is_flatten() const override { return true; }
  std::string type_name() const override { return "Flatten"; }
  std::string keras_name() const override { return "flatten"; }
};

class DropoutLayer : public Layer {
 public:
  explicit DropoutLayer(double rate) : rate_(rate) {
    NERVE_CHECK(rate >= 0 && rate < 1, "Dropout: rate must be in [0, 1), got ", rate);
  }
  Shape build(const Shape& in) override {
    built = true;
    return in;
  }
  Tensor forward(const Tensor& x) override { return nn::F::dropout(x, rate_, is_training()); }
  std::string type_name() const override { return "Dropout"; }
  std::string keras_name() const override { return "dropout"; }

 private:
  double rate_;
};

class ActivationLayer : public Layer {
 public:
  explicit ActivationLayer(std::string name) : act_(std::move(name)) { apply_activation(act_, zeros({1})); }
  Shape build(const Shape& in) override {
    built = true;
    return in;
  }
  Tensor forward(const Tensor& x) override { return apply_activation(act_, x); }
  Tensor forward_logits(const Tensor& x) override { return x; }
  std::string activation() const override { return act_; }
  std::string type_name() const override { return "Activation"; }
  std::string keras_name() const override { return "activation"; }

 private:
  std::string act_;
};

class RescalingLayer : public Layer {
 public:
  RescalingLayer(double scale, double offset, std::optional<Shape> s) : scale_(scale), offset_(offset) {
    input_shape = std::move(s);
  }
  Shape build(const Shape& in) override {
    built = true;
    return in;
  }
  Tensor forward(const Tensor& x) override {
    if (x.dtype() == DType::u8) {  // raw images: one fused pass (no gradient flows into integer data)
      Tensor src = x.contiguous(), y = empty(x.shape(), DType::f32);
      cpu::u8_to_f32_affine(src.data<uint8_t>(), y.data<float>(), src.numel(), static_cast<float>(scale_),
                            static_cast<float>(offset_));
      return y;
    }
    Tensor y = x.dtype() == DType::f32 ? x : x.to(DType::f32);
    y = y * scale_;
    return offset_ == 0.0 ? y : y + offset_;
  }
  std::optional<std::pair<double, double>> rescaling() const override { return std::make_pair(scale_, offset_); }
  std::string type_name() const override { return "Rescaling"; }
  std::string keras_name() const override { return "rescaling"; }

 private:
  double scale_, offset_;
};

}  // namespace

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
