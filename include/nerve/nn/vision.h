// Vision modules with PyTorch's names, defaults, parameter and buffer names, initialization and reprs: Conv2d,
// Conv1d, ConvTranspose2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, BatchNorm1d/2d, LayerNorm, GroupNorm, InstanceNorm1d/2d (Flatten and Identity: layers.h).
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "nerve/nn/module.h"
#include "nerve/ops/ops.h"

namespace nerve::nn {

namespace functional {
/// Zeroes whole channels of (N, C, ...) with probability p and scales the others by 1 / (1 - p) when `training`
/// (torch's dropout2d); identity otherwise. The mask (N, C) comes from the global seeded generator.
Tensor dropout2d(const Tensor& x, double p = 0.5, bool training = true);
}  // namespace functional

/// An (H, W) pair written as one number (both) or two: `.kernel = 3`, `.stride = {2, 1}`.
struct Size2 {
  int64_t h = 1, w = 1;
  bool square = true;  // given as one number (printed as one, as torch does)
  Size2(int64_t v) : h(v), w(v) {}
  Size2(int64_t a, int64_t b) : h(a), w(b), square(false) {}
  Shape shape() const { return {h, w}; }
  std::string repr() const;  // "3" or "(3, 1)"
};

struct Conv2dOptions {
  int64_t in = 0;   // in_channels
  int64_t out = 0;  // out_channels
  Size2 kernel = 1;
  Size2 stride = 1;
  ConvPadding padding = 0;  // numbers, "same" or "valid"
  Size2 dilation = 1;
  int64_t groups = 1;
  bool bias = true;
  DType dtype = DType::f32;
};

/// PyTorch's Conv2d: weight (out, in / groups, kH, kW), bias (out), both U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
/// fan_in = in / groups * kH * kW (kaiming_uniform_ with a = sqrt(5), as torch).
///   auto conv = std::make_shared<nn::Conv2d>(nn::Conv2dOptions{.in = 1, .out = 32, .kernel = 3, .padding = 1});
class Conv2d : public Module {
 public:
  explicit Conv2d(const Conv2dOptions& o);
  Conv2d(int64_t in, int64_t out, Size2 kernel) : Conv2d(Conv2dOptions{.in = in, .out = out, .kernel = kernel}) {}
  Tensor forward(const Tensor& x) override;  // (N, in, H, W) -> (N, out, Ho, Wo)
  std::string type_name() const override { return "Conv2d"; }
  std::string extra_repr() const override;
  void reset_parameters();
  const Conv2dOptions& options() const { return options_; }

  Tensor weight, bias;

 private:
  Conv2dOptions options_;
};

struct Conv1dOptions {
  int64_t in = 0;   // in_channels
  int64_t out = 0;  // out_channels
  int64_t kernel = 1;
  int64_t stride = 1;
  ConvPadding padding = 0;  // a number, "same" or "valid"
  int64_t dilation = 1;
  int64_t groups = 1;
  bool bias = true;
  DType dtype = DType::f32;
};

/// PyTorch's Conv1d: weight (out, in / groups, k), bias (out), initialized as Conv2d.
///   nn::Conv1d conv({.in = 16, .out = 32, .kernel = 5, .padding = "same"});   // (N, 16, L) -> (N, 32, L)
class Conv1d : public Module {
 public:
  explicit Conv1d(const Conv1dOptions& o);
  Tensor forward(const Tensor& x) override;  // (N, in, L) -> (N, out, Lo)
  std::string type_name() const override { return "Conv1d"; }
  std::string extra_repr() const override;
  void reset_parameters();

  Tensor weight, bias;

 private:
  Conv1dOptions options_;
};

struct ConvTranspose2dOptions {
  int64_t in = 0;   // in_channels
  int64_t out = 0;  // out_channels
  Size2 kernel = 1;
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 output_padding = 0;
  int64_t groups = 1;
  bool bias = true;
  Size2 dilation = 1;
  DType dtype = DType::f32;
};

/// PyTorch's ConvTranspose2d (the gradient of Conv2d with respect to its input): weight (in, out / groups, kH, kW),
/// bias (out); init as torch (kaiming_uniform_(a = sqrt(5)) with fan_in = out / groups * kH * kW).
///   nn::ConvTranspose2d up({.in = 64, .out = 32, .kernel = 2, .stride = 2});   // doubles H and W
class ConvTranspose2d : public Module {
 public:
  explicit ConvTranspose2d(const ConvTranspose2dOptions& o);
  Tensor forward(const Tensor& x) override;  // (N, in, H, W) -> (N, out, Ho, Wo)
  std::string type_name() const override { return "ConvTranspose2d"; }
  std::string extra_repr() const override;
  void reset_parameters();

  Tensor weight, bias;

 private:
  ConvTranspose2dOptions options_;
};

struct MaxPool2dOptions {
  Size2 kernel = 2;
  std::optional<Size2> stride;  // the kernel when not given
  Size2 padding = 0;
  Size2 dilation = 1;
  bool ceil_mode = false;
};

/// PyTorch's MaxPool2d.  std::make_shared<nn::MaxPool2d>(2)
class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(const MaxPool2dOptions& o) : o_(o) {}
  explicit MaxPool2d(Size2 kernel) : o_{.kernel = kernel} {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "MaxPool2d"; }
  std::string extra_repr() const override;

 private:
  MaxPool2dOptions o_;
};

struct AvgPool2dOptions {
  Size2 kernel = 2;
  std::optional<Size2> stride;  // the kernel when not given
  Size2 padding = 0;
  bool ceil_mode = false;
  bool count_include_pad = true;
};

/// PyTorch's AvgPool2d.  std::make_shared<nn::AvgPool2d>(2)
class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(const AvgPool2dOptions& o) : o_(o) {}
  explicit AvgPool2d(Size2 kernel) : o_{.kernel = kernel} {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "AvgPool2d"; }
  std::string extra_repr() const override;

 private:
  AvgPool2dOptions o_;
};

/// PyTorch's AdaptiveAvgPool2d: averages to a fixed (Ho, Wo).  nn::AdaptiveAvgPool2d(1) is global pooling.
class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(Size2 output_size) : size_(output_size) {}
  Tensor forward(const Tensor& x) override { return adaptive_avg_pool2d(x, size_.shape()); }
  std::string type_name() const override { return "AdaptiveAvgPool2d"; }
  std::string extra_repr() const override { return "output_size=" + size_.repr(); }

 private:
  Size2 size_;
};

struct BatchNormOptions {
  int64_t num_features = 0;
  double eps = 1e-5;
  double momentum = 0.1;
  bool affine = true;               // parameters weight (ones) and bias (zeros)
  bool track_running_stats = true;  // buffers running_mean, running_var, num_batches_tracked
  DType dtype = DType::f32;
};

/// PyTorch's BatchNorm1d (input (N, C) or (N, C, L)) and BatchNorm2d (input (N, C, H, W)): batch statistics in
/// train(), running statistics in eval().  auto bn = std::make_shared<nn::BatchNorm2d>(32);
class BatchNorm : public Module {
 public:
  BatchNorm(const BatchNormOptions& o, int spatial_dims);
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return spatial_dims_ == 2 ? "BatchNorm2d" : "BatchNorm1d"; }
  std::string extra_repr() const override;
  void reset_running_stats();

  Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 private:
  BatchNormOptions o_;
  int spatial_dims_;
};
class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(const BatchNormOptions& o) : BatchNorm(o, 1) {}
  explicit BatchNorm1d(int64_t num_features) : BatchNorm({.num_features = num_features}, 1) {}
};
class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(const BatchNormOptions& o) : BatchNorm(o, 2) {}
  explicit BatchNorm2d(int64_t num_features) : BatchNorm({.num_features = num_features}, 2) {}
};

/// PyTorch's LayerNorm over the last dims (normalized_shape); weight ones, bias zeros.
///   nn::LayerNorm ln({768});
class LayerNorm : public Module {
 public:
  explicit LayerNorm(const Shape& normalized_shape, double eps = 1e-5, bool elementwise_affine = true,
                     DType dtype = DType::f32);
  Tensor forward(const Tensor& x) override { return layer_norm(x, shape_, weight, bias, eps_); }
  std::string type_name() const override { return "LayerNorm"; }
  std::string extra_repr() const override;

  Tensor weight, bias;

 private:
  Shape shape_;
  double eps_;
};

/// PyTorch's GroupNorm(num_groups, num_channels); weight ones, bias zeros.  nn::GroupNorm gn(8, 64);
class GroupNorm : public Module {
 public:
  GroupNorm(int64_t num_groups, int64_t num_channels, double eps = 1e-5, bool affine = true, DType dtype = DType::f32);
  Tensor forward(const Tensor& x) override { return group_norm(x, groups_, weight, bias, eps_); }
  std::string type_name() const override { return "GroupNorm"; }
  std::string extra_repr() const override;

  Tensor weight, bias;

 private:
  int64_t groups_, channels_;
  double eps_;
  bool affine_;
};

/// PyTorch's InstanceNorm1d / InstanceNorm2d: each (sample, channel) normalized over its own spatial values;
/// affine (default off, as torch) adds weight (ones) and bias (zeros). track_running_stats (torch 1.13's rule) adds
/// the buffers running_mean (zeros), running_var (ones) and num_batches_tracked (0, never counted, as torch): in
/// train() each forward moves them by momentum towards the mean over the batch of the instances' means and unbiased
/// variances, and eval() normalizes with them.  std::make_shared<nn::InstanceNorm2d>(64, 1e-5, 0.1, true)
class InstanceNorm : public Module {
 public:
  InstanceNorm(int64_t spatial_dims, int64_t num_features, double eps, double momentum, bool affine,
               bool track_running_stats, DType dtype);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

  Tensor weight, bias;
  Tensor running_mean, running_var, num_batches_tracked;  // with track_running_stats

 private:
  int64_t dims_, features_;
  double eps_, momentum_;
  bool affine_, track_;
};
class InstanceNorm1d : public InstanceNorm {
 public:
  explicit InstanceNorm1d(int64_t num_features, double eps = 1e-5, double momentum = 0.1, bool affine = false,
                          bool track_running_stats = false, DType dtype = DType::f32)
      : InstanceNorm(1, num_features, eps, momentum, affine, track_running_stats, dtype) {}
  std::string type_name() const override { return "InstanceNorm1d"; }
};
class InstanceNorm2d : public InstanceNorm {
 public:
  explicit InstanceNorm2d(int64_t num_features, double eps = 1e-5, double momentum = 0.1, bool affine = false,
                          bool track_running_stats = false, DType dtype = DType::f32)
      : InstanceNorm(2, num_features, eps, momentum, affine, track_running_stats, dtype) {}
  std::string type_name() const override { return "InstanceNorm2d"; }
};

/// Dropout2d(p): whole channels dropped in train(), identity in eval().  std::make_shared<nn::Dropout2d>(0.2)
class Dropout2d : public Module {
 public:
  explicit Dropout2d(double p = 0.5);
  Tensor forward(const Tensor& x) override { return functional::dropout2d(x, p_, is_training()); }
  std::string type_name() const override { return "Dropout2d"; }
  std::string extra_repr() const override;

 private:
  double p_;
};

/// PyTorch's AdaptiveMaxPool2d.  nn::AdaptiveMaxPool2d(1)
class AdaptiveMaxPool2d : public Module {
 public:
  explicit AdaptiveMaxPool2d(Size2 output_size) : size_(output_size) {}
  Tensor forward(const Tensor& x) override { return adaptive_max_pool2d(x, size_.shape()); }
  std::string type_name() const override { return "AdaptiveMaxPool2d"; }
  std::string extra_repr() const override { return "output_size=" + size_.repr() + ", return_indices=False"; }

 private:
  Size2 size_;
};

struct UpsampleOptions {
  Shape size;                         // the output's spatial size, or empty with scale_factor
  std::optional<double> scale_factor;
  std::string mode = "nearest";       // or "bilinear" (4-D), "linear" (3-D)
  bool align_corners = false;
};
/// PyTorch's Upsample: interpolate(x, size or scale_factor, mode).  nn::Upsample({.scale_factor = 2.0})
class Upsample : public Module {
 public:
  explicit Upsample(UpsampleOptions o) : o_(std::move(o)) {}
  Tensor forward(const Tensor& x) override {
    return interpolate(x, o_.size, o_.mode, o_.align_corners, o_.scale_factor);
  }
  std::string type_name() const override { return "Upsample"; }

 private:
  UpsampleOptions o_;
};

}  // namespace nerve::nn
