// Normalization layers as compositions of reductions and elementwise ops (their gradients come from those ops):
// batch_norm (training statistics and the running-stat update, or eval with the running stats), layer_norm,
// group_norm. Formulas: the PyTorch docs of BatchNorm2d, LayerNorm and GroupNorm (biased variance inside).
#include "nerve/core/profiler.h"
#include "ops/op_util.h"

namespace nerve {

namespace {

// (x - mean) / sqrt(var + eps) over dims, the variance biased
Tensor normalize(const Tensor& x, const Shape& dims, double eps) {
  const Tensor mu = mean(x, dims, true);
  return (x - mu) * rsqrt(var(x, dims, 0, true) + eps);
}

// A per-channel vector (C) as (1, C, 1, ...) for an input of `ndim` dims.
Tensor channel_view(const Tensor& v, int64_t ndim) {
  Shape s(static_cast<size_t>(ndim), 1);
  s[1] = v.shape()[0];
  return reshape(v, s);
}

void check_param(const Tensor& t, const Shape& want, const Tensor& x, const char* op, const char* name) {
  if (!t.defined()) return;
  NERVE_CHECK(t.shape() == want && t.dtype() == x.dtype(), op, ": ", name, " must be ", to_string(want), " ",
              dtype_name(x.dtype()), " for input ", detail::describe(x), ", got ", detail::describe(t));
}

// y * weight + bias, each (C) broadcast as (1, C, 1, ...) when per_channel, else over the trailing dims
Tensor affine(Tensor y, const Tensor& weight, const Tensor& bias, bool per_channel) {
  if (weight.defined()) y = y * (per_channel ? channel_view(weight, y.dim()) : weight);
  if (bias.defined()) y = y + (per_channel ? channel_view(bias, y.dim()) : bias);
  return y;
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps) {
  detail::check_arg(x, "batch_norm", "input");
  NERVE_RECORD_FUNCTION("batch_norm");
  NERVE_CHECK(x.dim() >= 2, "batch_norm: expected an input (N, C, ...) with at least 2 dims, got ",
              detail::describe(x));
  NERVE_CHECK(is_floating(x.dtype()), "batch_norm: expected a floating input, got ", detail::describe(x));
  const int64_t C = x.shape()[1];
  check_param(weight, {C}, x, "batch_norm", "weight");
  check_param(bias, {C}, x, "batch_norm", "bias");
  check_param(running_mean, {C}, x, "batch_norm", "running_mean");
  check_param(running_var, {C}, x, "batch_norm", "running_var");
  NERVE_CHECK(running_mean.defined() == running_var.defined(),
              "batch_norm: give both running_mean and running_var, or neither");
  Shape dims{0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  if (!training) {
    NERVE_CHECK(running_mean.defined(), "batch_norm: eval mode (training=false) needs running_mean and running_var");
    const Tensor rm = channel_view(running_mean.detach(), x.dim()), rv = channel_view(running_var.detach(), x.dim());
    return affine((x - rm) * rsqrt(rv + eps), weight, bias, true);
  }
  const int64_t n = x.numel() / std::max<int64_t>(C, 1);
  NERVE_CHECK(n > 1, "batch_norm: expected more than 1 value per channel when training, got input ",
              detail::describe(x));
  const Tensor mu = mean(x, dims, true), v = var(x, dims, 0, true);
  if (running_mean.defined()) {  // r = (1 - momentum) r + momentum * stat, the variance unbiased (torch)
    NoGradGuard no_grad;
    Tensor rm = running_mean, rv = running_var;
    rm.mul_(1.0 - momentum).add_(reshape(mu.detach(), {C}), momentum);
    rv.mul_(1.0 - momentum).add_(reshape(v.detach(), {C}), momentum * double(n) / double(n - 1));
  }
  return affine((x - mu) * rsqrt(v + eps), weight, bias, true);
}

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
  detail::check_arg(x, "layer_norm", "input");
  NERVE_RECORD_FUNCTION("layer_norm");
  const int64_t k = static_cast<int64_t>(normalized_shape.size());
  NERVE_CHECK(k >= 1 && x.dim() >= k && Shape(x.shape().end() - k, x.shape().end()) == normalized_shape,
              "layer_norm: normalized_shape ", to_string(normalized_shape), " must be the last dims of the input ",
              detail::describe(x));
  NERVE_CHECK(is_floating(x.dtype()), "layer_norm: expected a floating input, got ", detail::describe(x));
  check_param(weight, normalized_shape, x, "layer_norm", "weight");
  check_param(bias, normalized_shape, x, "layer_norm", "bias");
  Shape dims;
  for (int64_t d = x.dim() - k; d < x.dim(); ++d) dims.push_back(d);
  return affine(normalize(x, dims, eps), weight, bias, false);
}

Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps) {
  detail::check_arg(x, "group_norm", "input");
  NERVE_RECORD_FUNCTION("group_norm");
  NERVE_CHECK(x.dim() >= 2, "group_norm: expected an input (N, C, ...) with at least 2 dims, got ",
              detail::describe(x));
  NERVE_CHECK(is_floating(x.dtype()), "group_norm: expected a floating input, got ", detail::describe(x));
  const int64_t N = x.shape()[0], C = x.shape()[1];
  NERVE_CHECK(num_groups > 0 && C % num_groups == 0, "group_norm: ", C, " channels cannot be split into ", num_groups,
              " groups (input ", detail::describe(x), ")");
  check_param(weight, {C}, x, "group_norm", "weight");
  check_param(bias, {C}, x, "group_norm", "bias");
  const Tensor y = reshape(normalize(reshape(x, {N, num_groups, -1}), {2}, eps), x.shape());
  return affine(y, weight, bias, true);
}

Tensor instance_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  detail::check_arg(x, "instance_norm", "input");
  NERVE_RECORD_FUNCTION("instance_norm");
  NERVE_CHECK(x.dim() >= 3, "instance_norm: expected an input (N, C, ...) with at least 3 dims, got ",
              detail::describe(x));
  NERVE_CHECK(is_floating(x.dtype()), "instance_norm: expected a floating input, got ", detail::describe(x));
  const int64_t C = x.shape()[1];
  check_param(weight, {C}, x, "instance_norm", "weight");
  check_param(bias, {C}, x, "instance_norm", "bias");
  Shape dims;
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  return affine(normalize(x, dims, eps), weight, bias, true);
}

}  // namespace nerve
