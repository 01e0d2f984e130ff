// Keras's image layers on channels-last tensors: Conv2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D,
// BatchNormalization, Reshape. The layers view (N, H, W, C) as (N, C, H, W) for the ops and back (no copies
// between consecutive image layers: the permuted view of an (N, C, H, W) result is contiguous again).
#include <algorithm>
#include <cmath>

#include "nerve/autograd/grad_mode.h"
#include "nerve/keras/layers.h"
#include "nerve/nn/init.h"
#include "nerve/ops/ops.h"

namespace nerve::keras {

namespace {
Tensor to_nchw(const Tensor& x) { return permute(x, {0, 3, 1, 2}); }
Tensor to_nhwc(const Tensor& x) { return permute(x, {0, 2, 3, 1}); }

std::pair<int64_t, int64_t> hw(const Shape& s, const char* layer, const char* arg) {
  NERVE_CHECK((s.size() == 1 || s.size() == 2) && s[0] > 0 && s.back() > 0, layer, ": ", arg,
              " must be one or two positive numbers, got ", to_string(s));
  return {s[0], s.back()};
}

void check_image(const Shape& in, const char* layer) {
  NERVE_CHECK(in.size() == 3, layer, ": expects images (height, width, channels), got input shape ", to_string(in));
}

// (in - k) / s + 1 for "valid" windows; throws when the window does not fit
int64_t valid_out(int64_t in, int64_t k, int64_t s, const char* layer, const Shape& input_shape) {
  NERVE_CHECK(k <= in, layer, ": window ", k, " is larger than the input ", to_string(input_shape));
  return (in - k) / s + 1;
}
}  // namespace

// ------------------------------------------------------------------ Conv2D
Conv2DLayer::Conv2DLayer(int64_t filters, const Shape& kernel_size, std::string activation, Conv2DOptions o)
    : filters_(filters), act_(std::move(activation)), o_(std::move(o)) {
  NERVE_CHECK(filters > 0, "Conv2D: filters must be positive, got ", filters);
  auto [kh, kw] = hw(kernel_size, "Conv2D", "kernel_size");
  kernel_ = {kh, kw};
  hw(o_.strides, "Conv2D", "strides");
  NERVE_CHECK(o_.padding == "valid" || o_.padding == "same", "Conv2D: padding must be 'valid' or 'same', got '",
              o_.padding, "'");
  apply_activation(act_, zeros({1}));  // validates the name now
  input_shape = o_.input_shape;
}

Shape Conv2DLayer::build(const Shape& in) {
  check_image(in, "Conv2D");
  const auto [sh, sw] = hw(o_.strides, "Conv2D", "strides");
  // "same": ceil(in / stride) outputs, as Keras
  const int64_t Ho = o_.padding == "same" ? (in[0] + sh - 1) / sh : valid_out(in[0], kernel_[0], sh, "Conv2D", in);
  const int64_t Wo = o_.padding == "same" ? (in[1] + sw - 1) / sw : valid_out(in[1], kernel_[1], sw, "Conv2D", in);
  // Keras: kernel glorot_uniform (fans in * kH * kW and filters * kH * kW, as xavier_uniform_ of this layout)
  weight_ = register_parameter("weight",
                               nn::init::xavier_uniform_(empty({filters_, in[2], kernel_[0], kernel_[1]})));
  if (o_.use_bias) bias_ = register_parameter("bias", zeros({filters_}));
  built = true;
  return {Ho, Wo, filters_};
}

Tensor Conv2DLayer::conv_nchw(const Tensor& x) const {
  NERVE_CHECK(x.dim() == 4, "Conv2D: expected images (N, H, W, C), got ", to_string(x.shape()));
  Tensor xc = to_nchw(x);
  Tensor y;
  if (o_.padding == "same" && numel(o_.strides) != 1) {
    // Keras's "same" with strides: ceil(in / s) outputs and the padding that needs, the odd one at the bottom/right
    // (TensorFlow's rule), which torch's symmetric padding cannot say: pad first, then a valid convolution
    auto pads = [](int64_t in, int64_t k, int64_t s) {
      const int64_t total = std::max<int64_t>((((in + s - 1) / s) - 1) * s + k - in, 0);
      return std::pair{total / 2, total - total / 2};
    };
    const auto [top, bottom] = pads(xc.shape()[2], kernel_[0], o_.strides[0]);
    const auto [left, right] = pads(xc.shape()[3], kernel_[1], o_.strides.back());
    y = conv2d(pad(xc, {left, right, top, bottom}), weight_, bias_, o_.strides, ConvPadding("valid"));
  } else {
    y = conv2d(xc, weight_, bias_, o_.strides, ConvPadding(o_.padding));
  }
  return y;
}

Tensor Conv2DLayer::conv_relu_max_pool2x2_nchw(const Tensor& x) const {
  if (o_.padding == "same" && numel(o_.strides) != 1) return relu(max_pool2d(conv_nchw(x), {2, 2}));  // padded first
  NERVE_CHECK(x.dim() == 4, "Conv2D: expected images (N, H, W, C), got ", to_string(x.shape()));
  return conv2d_relu_max_pool2x2(to_nchw(x), weight_, bias_, o_.strides, ConvPadding(o_.padding));
}

Tensor Conv2DLayer::forward(const Tensor& x) { return to_nhwc(apply_activation(act_, conv_nchw(x))); }

// ------------------------------------------------------------------ pooling
Pooling2DLayer::Pooling2DLayer(bool max, const Shape& pool_size, std::optional<Shape> strides) : max_(max) {
  const char* name = max ? "MaxPooling2D" : "AveragePooling2D";
  auto [ph, pw] = hw(pool_size, name, "pool_size");
  pool_ = {ph, pw};
  auto [sh, sw] = strides ? hw(*strides, name, "strides") : std::pair{ph, pw};
  strides_ = {sh, sw};
}

Shape Pooling2DLayer::build(const Shape& in) {
  check_image(in, max_ ? "MaxPooling2D" : "AveragePooling2D");
  built = true;
  const char* name = max_ ? "MaxPooling2D" : "AveragePooling2D";
  return {valid_out(in[0], pool_[0], strides_[0], name, in), valid_out(in[1], pool_[1], strides_[1], name, in), in[2]};
}

Tensor Pooling2DLayer::pool_nchw(const Tensor& xc) const {
  return max_ ? max_pool2d(xc, pool_, strides_) : avg_pool2d(xc, pool_, strides_);
}

Tensor Pooling2DLayer::forward(const Tensor& x) {
  NERVE_CHECK(x.dim() == 4, type_name(), ": expected images (N, H, W, C), got ", to_string(x.shape()));
  return to_nhwc(pool_nchw(to_nchw(x)));
}

// ------------------------------------------------------------------ GlobalAveragePooling2D
Shape GlobalAveragePooling2DLayer::build(const Shape& in) {
  check_image(in, "GlobalAveragePooling2D");
  built = true;
  return {in[2]};
}

Tensor GlobalAveragePooling2DLayer::forward(const Tensor& x) {
  NERVE_CHECK(x.dim() == 4, "GlobalAveragePooling2D: expected images (N, H, W, C), got ", to_string(x.shape()));
  return flatten(adaptive_avg_pool2d(to_nchw(x), {1}), 1);
}

// ------------------------------------------------------------------ BatchNormalization
BatchNormalizationLayer::BatchNormalizationLayer(BatchNormalizationOptions o) : o_(std::move(o)) {
  NERVE_CHECK(o_.momentum >= 0 && o_.momentum <= 1, "BatchNormalization: momentum must be in [0, 1], got ",
              o_.momentum);
  input_shape = o_.input_shape;
}

Shape BatchNormalizationLayer::build(const Shape& in) {
  NERVE_CHECK(!in.empty(), "BatchNormalization: needs an input with at least 1 dim besides the batch dim");
  const int64_t C = in.back();
  gamma = register_parameter("gamma", ones({C}));
  beta = register_parameter("beta", zeros({C}));
  moving_mean = register_buffer("moving_mean", zeros({C}));
  moving_variance = register_buffer("moving_variance", ones({C}));
  built = true;
  return in;
}

Tensor BatchNormalizationLayer::forward(const Tensor& x) {
  // the channels (last axis) second, as batch_norm wants them: (N, ..., C) -> (N, C, ...)
  Shape to_first{0, x.dim() - 1}, to_last{0};
  for (int64_t d = 1; d < x.dim() - 1; ++d) to_first.push_back(d);
  for (int64_t d = 2; d < x.dim(); ++d) to_last.push_back(d);
  to_last.push_back(1);
  const Tensor xc = x.dim() > 2 ? permute(x, to_first) : x;
  Tensor y;
  if (is_training()) {
    y = batch_norm(xc, Tensor(), Tensor(), gamma, beta, true, 0.0, o_.epsilon);
    if (!x.is_meta()) {  // Keras: moving = m * moving + (1 - m) * stat, with the biased batch variance
      NoGradGuard g;
      Shape dims{0};
      for (int64_t d = 2; d < xc.dim(); ++d) dims.push_back(d);
      const Tensor xd = xc.detach();
      moving_mean.mul_(o_.momentum).add_(mean(xd, dims), 1.0 - o_.momentum);
      moving_variance.mul_(o_.momentum).add_(var(xd, dims, 0), 1.0 - o_.momentum);
    }
  } else {
    y = batch_norm(xc, moving_mean, moving_variance, gamma, beta, false, 0.0, o_.epsilon);
  }
  return x.dim() > 2 ? permute(y, to_last) : y;
}

// ------------------------------------------------------------------ Reshape
ReshapeLayer::ReshapeLayer(const Shape& target, std::optional<Shape> s) : target_(target) {
  for (int64_t d : target_)
    NERVE_CHECK(d == -1 || (d > 0 && d <= (int64_t{1} << 31)), "Reshape: target_shape dims must be -1 or in 1..2^31, got ",
                to_string(target_));
  input_shape = std::move(s);
}

Shape ReshapeLayer::build(const Shape& in) {
  Shape out = target_;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      NERVE_CHECK(infer < 0, "Reshape: at most one dim may be -1, got ", to_string(target_));
      infer = static_cast<int64_t>(i);
    } else {
      NERVE_CHECK(out[i] >= 0 && !__builtin_mul_overflow(known, out[i], &known), "Reshape: bad target shape ",
                  to_string(target_), " (dims must be -1 or >= 0, with a product that fits int64)");
    }
  }
  if (infer >= 0 && known > 0) out[static_cast<size_t>(infer)] = numel(in) / known;
  NERVE_CHECK(numel(out) == numel(in), "Reshape: cannot reshape ", to_string(in), " (", numel(in), " values) to ",
              to_string(target_));
  built = true;
  return out;
}

Tensor ReshapeLayer::forward(const Tensor& x) {
  Shape s{x.shape()[0]};
  s.insert(s.end(), target_.begin(), target_.end());
  return reshape(x, s);
}

// ------------------------------------------------------------------ factories
LayerPtr Conv2D(int64_t filters, const Shape& kernel_size, const std::string& activation, Conv2DOptions options) {
  return std::make_shared<Conv2DLayer>(filters, kernel_size, activation, std::move(options));
}
LayerPtr MaxPooling2D(const Shape& pool_size, std::optional<Shape> strides) {
  return std::make_shared<Pooling2DLayer>(true, pool_size, std::move(strides));
}
LayerPtr AveragePooling2D(const Shape& pool_size, std::optional<Shape> strides) {
  return std::make_shared<Pooling2DLayer>(false, pool_size, std::move(strides));
}
LayerPtr GlobalAveragePooling2D() { return std::make_shared<GlobalAveragePooling2DLayer>(); }
LayerPtr BatchNormalization(BatchNormalizationOptions options) {
  return std::make_shared<BatchNormalizationLayer>(std::move(options));
}
LayerPtr Reshape(const Shape& target_shape, std::optional<Shape> input_shape) {
  return std::make_shared<ReshapeLayer>(target_shape, std::move(input_shape));
}

}  // namespace nerve::keras
