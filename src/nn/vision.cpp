// The vision modules of nn/vision.h: option checks, PyTorch's initialization and reprs, and forward through the ops.
#include "nerve/nn/vision.h"

#include <cmath>

#include "nerve/autograd/grad_mode.h"
#include "nerve/nn/init.h"
#include "nn/repr_util.h"

namespace nerve::nn {

namespace {
std::string tuple2(int64_t a, int64_t b) { return "(" + std::to_string(a) + ", " + std::to_string(b) + ")"; }
std::string tuple2(const Size2& s) { return tuple2(s.h, s.w); }
const char* py_bool(bool b) { return b ? "True" : "False"; }
}  // namespace

std::string Size2::repr() const { return square ? std::to_string(h) : tuple2(h, w); }

// ------------------------------------------------------------------ Conv2d
Conv2d::Conv2d(const Conv2dOptions& o) : options_(o) {
  NERVE_CHECK(o.in > 0 && o.out > 0, "Conv2d: in and out channels must be positive, got in=", o.in, ", out=", o.out);
  NERVE_CHECK(o.groups > 0 && o.in % o.groups == 0 && o.out % o.groups == 0, "Conv2d: in (", o.in, ") and out (",
              o.out, ") channels must be divisible by groups (", o.groups, ")");
  NERVE_CHECK(o.kernel.h > 0 && o.kernel.w > 0, "Conv2d: kernel_size must be positive, got ", o.kernel.repr());
  NERVE_CHECK(is_floating(o.dtype), "Conv2d: dtype must be f32 or f64, got ", dtype_name(o.dtype));
  weight = register_parameter("weight", empty({o.out, o.in / o.groups, o.kernel.h, o.kernel.w}, o.dtype));
  if (o.bias) bias = register_parameter("bias", empty({o.out}, o.dtype));
  reset_parameters();
}

void Conv2d::reset_parameters() {
  // torch's _ConvNd.reset_parameters: kaiming_uniform_(a=sqrt(5)), bias U(-1/sqrt(fan_in), 1/sqrt(fan_in))
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const double fan_in = double(options_.in / options_.groups * options_.kernel.h * options_.kernel.w);
    const double bound = 1.0 / std::sqrt(fan_in);
    init::uniform_(bias, -bound, bound);
  }
}

Tensor Conv2d::forward(const Tensor& x) {
  const Conv2dOptions& o = options_;
  return conv2d(x, weight, bias, o.stride.shape(), o.padding, o.dilation.shape(), o.groups);
}

std::string Conv2d::extra_repr() const {
  const Conv2dOptions& o = options_;
  std::string s = std::to_string(o.in) + ", " + std::to_string(o.out) + ", kernel_size=" + tuple2(o.kernel) +
                  ", stride=" + tuple2(o.stride);
  if (!o.padding.mode.empty()) {
    s += ", padding=" + o.padding.mode;
  } else {
    const int64_t ph = o.padding.values.at(0), pw = o.padding.values.back();
    if (ph != 0 || pw != 0) s += ", padding=" + tuple2(ph, pw);
  }
  if (o.dilation.h != 1 || o.dilation.w != 1) s += ", dilation=" + tuple2(o.dilation);
  if (o.groups != 1) s += ", groups=" + std::to_string(o.groups);
  if (!o.bias) s += ", bias=False";
  return s;
}

// ------------------------------------------------------------------ Conv1d
Conv1d::Conv1d(const Conv1dOptions& o) : options_(o) {
  NERVE_CHECK(o.in > 0 && o.out > 0, "Conv1d: in and out channels must be positive, got in=", o.in, ", out=", o.out);
  NERVE_CHECK(o.groups > 0 && o.in % o.groups == 0 && o.out % o.groups == 0, "Conv1d: in (", o.in, ") and out (",
              o.out, ") channels must be divisible by groups (", o.groups, ")");
  NERVE_CHECK(o.kernel > 0, "Conv1d: kernel_size must be positive, got ", o.kernel);
  NERVE_CHECK(is_floating(o.dtype), "Conv1d: dtype must be f32 or f64, got ", dtype_name(o.dtype));
  weight = register_parameter("weight", empty({o.out, o.in / o.groups, o.kernel}, o.dtype));
  if (o.bias) bias = register_parameter("bias", empty({o.out}, o.dtype));
  reset_parameters();
}

void Conv1d::reset_parameters() {  // as Conv2d's
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const double bound = 1.0 / std::sqrt(double(options_.in / options_.groups * options_.kernel));
    init::uniform_(bias, -bound, bound);
  }
}

Tensor Conv1d::forward(const Tensor& x) {
  const Conv1dOptions& o = options_;
  return conv1d(x, weight, bias, {o.stride}, o.padding, {o.dilation}, o.groups);
}

std::string Conv1d::extra_repr() const {
  const Conv1dOptions& o = options_;
  std::string s = std::to_string(o.in) + ", " + std::to_string(o.out) + ", kernel_size=(" + std::to_string(o.kernel) +
                  ",), stride=(" + std::to_string(o.stride) + ",)";
  if (!o.padding.mode.empty())
    s += ", padding=" + o.padding.mode;
  else if (o.padding.values.at(0) != 0)
    s += ", padding=(" + std::to_string(o.padding.values.at(0)) + ",)";
  if (o.dilation != 1) s += ", dilation=(" + std::to_string(o.dilation) + ",)";
  if (o.groups != 1) s += ", groups=" + std::to_string(o.groups);
  if (!o.bias) s += ", bias=False";
  return s;
}

// ------------------------------------------------------------------ ConvTranspose2d
ConvTranspose2d::ConvTranspose2d(const ConvTranspose2dOptions& o) : options_(o) {
  NERVE_CHECK(o.in > 0 && o.out > 0, "ConvTranspose2d: in and out channels must be positive, got in=", o.in,
              ", out=", o.out);
  NERVE_CHECK(o.groups > 0 && o.in % o.groups == 0 && o.out % o.groups == 0, "ConvTranspose2d: in (", o.in,
              ") and out (", o.out, ") channels must be divisible by groups (", o.groups, ")");
  NERVE_CHECK(o.kernel.h > 0 && o.kernel.w > 0, "ConvTranspose2d: kernel_size must be positive, got ", o.kernel.repr());
  NERVE_CHECK(is_floating(o.dtype), "ConvTranspose2d: dtype must be f32 or f64, got ", dtype_name(o.dtype));
  weight = register_parameter("weight", empty({o.in, o.out / o.groups, o.kernel.h, o.kernel.w}, o.dtype));
  if (o.bias) bias = register_parameter("bias", empty({o.out}, o.dtype));
  reset_parameters();
}

void ConvTranspose2d::reset_parameters() {
  // torch's fan_in is the weight's dim 1 times the kernel: out / groups * kH * kW
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const double fan_in = double(options_.out / options_.groups * options_.kernel.h * options_.kernel.w);
    const double bound = 1.0 / std::sqrt(fan_in);
    init::uniform_(bias, -bound, bound);
  }
}

Tensor ConvTranspose2d::forward(const Tensor& x) {
  const ConvTranspose2dOptions& o = options_;
  return conv_transpose2d(x, weight, bias, o.stride.shape(), o.padding.shape(), o.output_padding.shape(), o.groups,
                          o.dilation.shape());
}

std::string ConvTranspose2d::extra_repr() const {
  const ConvTranspose2dOptions& o = options_;
  std::string s = std::to_string(o.in) + ", " + std::to_string(o.out) + ", kernel_size=" + tuple2(o.kernel) +
                  ", stride=" + tuple2(o.stride);
  if (o.padding.h != 0 || o.padding.w != 0) s += ", padding=" + tuple2(o.padding);
  if (o.output_padding.h != 0 || o.output_padding.w != 0) s += ", output_padding=" + tuple2(o.output_padding);
  if (o.dilation.h != 1 || o.dilation.w != 1) s += ", dilation=" + tuple2(o.dilation);
  if (o.groups != 1) s += ", groups=" + std::to_string(o.groups);
  if (!o.bias) s += ", bias=False";
  return s;
}

// ------------------------------------------------------------------ pooling
Tensor MaxPool2d::forward(const Tensor& x) {
  return max_pool2d(x, o_.kernel.shape(), o_.stride.value_or(o_.kernel).shape(), o_.padding.shape(),
                    o_.dilation.shape(), o_.ceil_mode);
}

std::string MaxPool2d::extra_repr() const {
  return "kernel_size=" + o_.kernel.repr() + ", stride=" + o_.stride.value_or(o_.kernel).repr() +
         ", padding=" + o_.padding.repr() + ", dilation=" + o_.dilation.repr() + ", ceil_mode=" + py_bool(o_.ceil_mode);
}

Tensor AvgPool2d::forward(const Tensor& x) {
  return avg_pool2d(x, o_.kernel.shape(), o_.stride.value_or(o_.kernel).shape(), o_.padding.shape(), o_.ceil_mode,
                    o_.count_include_pad);
}

std::string AvgPool2d::extra_repr() const {
  return "kernel_size=" + o_.kernel.repr() + ", stride=" + o_.stride.value_or(o_.kernel).repr() +
         ", padding=" + o_.padding.repr();
}

// ------------------------------------------------------------------ BatchNorm
BatchNorm::BatchNorm(const BatchNormOptions& o, int spatial_dims) : o_(o), spatial_dims_(spatial_dims) {
  NERVE_CHECK(o.num_features > 0, type_name(), ": num_features must be positive, got ", o.num_features);
  NERVE_CHECK(is_floating(o.dtype), type_name(), ": dtype must be f32 or f64, got ", dtype_name(o.dtype));
  if (o.affine) {
    weight = register_parameter("weight", ones({o.num_features}, o.dtype));
    bias = register_parameter("bias", zeros({o.num_features}, o.dtype));
  }
  if (o.track_running_stats) {
    running_mean = register_buffer("running_mean", zeros({o.num_features}, o.dtype));
    running_var = register_buffer("running_var", ones({o.num_features}, o.dtype));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, DType::i64));
  }
}

void BatchNorm::reset_running_stats() {
  if (!o_.track_running_stats) return;
  running_mean.zero_();
  running_var.fill_(1.0);
  num_batches_tracked.zero_();
}

Tensor BatchNorm::forward(const Tensor& x) {
  if (spatial_dims_ == 2)
    NERVE_CHECK(x.dim() == 4, "BatchNorm2d: expected a 4-D input (N, C, H, W), got ", to_string(x.shape()));
  else
    NERVE_CHECK(x.dim() == 2 || x.dim() == 3, "BatchNorm1d: expected a 2-D or 3-D input (N, C[, L]), got ",
                to_string(x.shape()));
  NERVE_CHECK(x.shape()[1] == o_.num_features, type_name(), ": input has ", x.shape()[1], " channels, expected ",
              o_.num_features, " (input ", to_string(x.shape()), ")");
  // torch: batch statistics in training, and in eval too when no running statistics are tracked
  const bool use_batch = is_training() || !o_.track_running_stats;
  if (is_training() && o_.track_running_stats && !num_batches_tracked.is_meta()) {
    NoGradGuard g;
    num_batches_tracked.add_(ones({}, DType::i64));
  }
  return batch_norm(x, running_mean, running_var, weight, bias, use_batch, o_.momentum, o_.eps);
}

std::string BatchNorm::extra_repr() const {
  return std::to_string(o_.num_features) + ", eps=" + detail::py_float(o_.eps) +
         ", momentum=" + detail::py_float(o_.momentum) + ", affine=" + py_bool(o_.affine) +
         ", track_running_stats=" + py_bool(o_.track_running_stats);
}

// ------------------------------------------------------------------ LayerNorm, GroupNorm
LayerNorm::LayerNorm(const Shape& normalized_shape, double eps, bool elementwise_affine, DType dtype)
    : shape_(normalized_shape), eps_(eps) {
  NERVE_CHECK(!normalized_shape.empty(), "LayerNorm: normalized_shape must not be empty");
  if (elementwise_affine) {
    weight = register_parameter("weight", ones(normalized_shape, dtype));
    bias = register_parameter("bias", zeros(normalized_shape, dtype));
  }
}

std::string LayerNorm::extra_repr() const {
  std::string s = "(";
  for (size_t i = 0; i < shape_.size(); ++i) s += std::to_string(shape_[i]) + (shape_.size() == 1 ? "," : i + 1 < shape_.size() ? ", " : "");
  return s + "), eps=" + detail::py_float(eps_) + ", elementwise_affine=" + py_bool(weight.defined());
}

GroupNorm::GroupNorm(int64_t num_groups, int64_t num_channels, double eps, bool affine, DType dtype)
    : groups_(num_groups), channels_(num_channels), eps_(eps), affine_(affine) {
  NERVE_CHECK(num_groups > 0 && num_channels % num_groups == 0, "GroupNorm: num_channels (", num_channels,
              ") must be divisible by num_groups (", num_groups, ")");
  if (affine) {
    weight = register_parameter("weight", ones({num_channels}, dtype));
    bias = register_parameter("bias", zeros({num_channels}, dtype));
  }
}

std::string GroupNorm::extra_repr() const {
  return std::to_string(groups_) + ", " + std::to_string(channels_) + ", eps=" + detail::py_float(eps_) +
         ", affine=" + py_bool(affine_);
}

// ------------------------------------------------------------------ InstanceNorm
InstanceNorm::InstanceNorm(int64_t spatial_dims, int64_t num_features, double eps, double momentum, bool affine,
                           bool track_running_stats, DType dtype)
    : dims_(spatial_dims), features_(num_features), eps_(eps), momentum_(momentum), affine_(affine),
      track_(track_running_stats) {
  const std::string name = "InstanceNorm" + std::to_string(spatial_dims) + "d";
  NERVE_CHECK(num_features > 0, name, ": num_features must be positive, got ", num_features);
  NERVE_CHECK(is_floating(dtype), name, ": dtype must be f32 or f64, got ", dtype_name(dtype));
  if (affine) {
    weight = register_parameter("weight", ones({num_features}, dtype));
    bias = register_parameter("bias", zeros({num_features}, dtype));
  }
  if (track_running_stats) {
    running_mean = register_buffer("running_mean", zeros({num_features}, dtype));
    running_var = register_buffer("running_var", ones({num_features}, dtype));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, DType::i64));
  }
}

Tensor InstanceNorm::forward(const Tensor& x) {
  // torch also takes an unbatched (C, spatial...) input
  const bool unbatched = x.dim() == dims_ + 1;
  NERVE_CHECK(x.dim() == dims_ + 2 || unbatched, type_name(), ": expected an input of ", dims_ + 1, " or ", dims_ + 2,
              " dims, got ", to_string(x.shape()));
  const Tensor xb = unbatched ? x.unsqueeze(0) : x;
  NERVE_CHECK(xb.shape()[1] == features_, type_name(), ": expected ", features_, " channels, got input ",
              to_string(x.shape()));
  Tensor y;
  if (track_ && !is_training()) {
    NERVE_CHECK(xb.dtype() == running_mean.dtype(), type_name(), ": input ", dtype_name(xb.dtype()),
                " but running statistics ", dtype_name(running_mean.dtype()));
    y = batch_norm(xb, running_mean, running_var, weight, bias, false, momentum_, eps_);
  } else {
    y = instance_norm(xb, weight, bias, eps_);
  }
  if (track_ && is_training() && !xb.is_meta() && !running_mean.is_meta()) {
    // torch 1.13 (instance_norm in aten/src/ATen/native/Normalization.cpp): batch_norm over the (1, N * C, ...)
    // view with the running statistics repeated N times, then their mean over the N copies, i.e.
    // r = (1 - momentum) r + momentum * mean over n of the statistic of instance (n, c); variances unbiased
    NoGradGuard g;
    NERVE_CHECK(xb.dtype() == running_mean.dtype(), type_name(), ": input ", dtype_name(xb.dtype()),
                " but running statistics ", dtype_name(running_mean.dtype()));
    Shape spatial;
    int64_t count = 1;
    for (int64_t d = 2; d < xb.dim(); ++d) spatial.push_back(d), count *= xb.shape()[d];
    NERVE_CHECK(count > 1, type_name(), ": expected more than 1 spatial element when training with "
                "track_running_stats, got input ", to_string(x.shape()));
    const Tensor xd = xb.detach();
    const Tensor mu = mean(xd, spatial, true);  // (N, C, 1...)
    const Tensor d = xd - mu;
    const Tensor var = sum(d * d, spatial) * (1.0 / double(count - 1));  // (N, C)
    const Tensor batch_mean = mean(mu.reshape({xb.shape()[0], features_}), {0}), batch_var = mean(var, {0});
    running_mean.copy_(running_mean * (1.0 - momentum_) + batch_mean * momentum_);
    running_var.copy_(running_var * (1.0 - momentum_) + batch_var * momentum_);
  }
  return unbatched ? y.squeeze(0) : y;
}

std::string InstanceNorm::extra_repr() const {
  return std::to_string(features_) + ", eps=" + detail::py_float(eps_) + ", momentum=" + detail::py_float(momentum_) +
         ", affine=" + py_bool(affine_) + ", track_running_stats=" + py_bool(track_);
}

// ------------------------------------------------------------------ dropout2d
namespace functional {

Tensor dropout2d(const Tensor& x, double p, bool training) {
  NERVE_CHECK(p >= 0.0 && p <= 1.0, "dropout2d: probability has to be between 0 and 1, but got ", p);
  NERVE_CHECK(x.dim() >= 2, "dropout2d: expected an input (N, C, ...), got ", to_string(x.shape()));
  if (!training || p == 0.0) return x;
  NERVE_CHECK(is_floating(x.dtype()), "dropout2d: expected a floating tensor, got ", dtype_name(x.dtype()));
  Shape ms(static_cast<size_t>(x.dim()), 1);
  ms[0] = x.shape()[0];
  ms[1] = x.shape()[1];
  if (p == 1.0) return x * zeros(ms, x.dtype(), x.device());
  DeviceGuard on(x.device());  // nothing drawn on meta
  const Tensor u = rand(ms, x.dtype());
  // keep = (u >= p) / (1 - p), one value per (sample, channel)
  const Tensor keep = where(ge(u, full({}, p, x.dtype(), x.device())), full({}, 1.0 / (1.0 - p), x.dtype(), x.device()),
                            zeros({}, x.dtype(), x.device()));
  return x * keep;
}

}  // namespace functional

Dropout2d::Dropout2d(double p) : p_(p) {
  NERVE_CHECK(p >= 0.0 && p <= 1.0, "Dropout2d: probability has to be between 0 and 1, but got ", p);
}

std::string Dropout2d::extra_repr() const { return "p=" + detail::py_float(p_) + ", inplace=False"; }

}  // namespace nerve::nn
