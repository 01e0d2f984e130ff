// Normalization layers: batch_norm in training mode as one op with its own backward (backend/cpu/norm_kernels:
// two passes forward, two backward, instead of ~15 elementwise and reduction passes of the composition), the
// others (batch_norm in eval mode, layer_norm, group_norm, instance_norm) as compositions of reductions and
// elementwise ops whose gradients come from those ops. Formulas: the PyTorch docs of BatchNorm2d, LayerNorm and
// GroupNorm (biased variance inside).
#include <vector>

#include "backend/cpu/norm_kernels.h"
#include "nerve/core/parallel.h"
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

// (N, C, ...) as the kernels' (N, C, S)
cpu::BatchNormDims bn_dims(const Tensor& x) {
  const int64_t N = x.shape()[0], C = x.shape()[1];
  return {N, C, N * C == 0 ? 0 : x.numel() / (N * C)};
}

// Runs f(c0, c1) over the channels in parallel, each channel on one thread (its sums in a fixed order).
template <class F>
void over_channels(const cpu::BatchNormDims& d, const F& f) {
  parallel_for(d.C, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(d.N * d.S, 1)), f);
}

class BatchNormBackward : public Node {
 public:
  BatchNormBackward(const Tensor& x, const Tensor& w, std::vector<double> mean, std::vector<double> invstd)
      : x_(x), w_(w), mean_(std::move(mean)), invstd_(std::move(invstd)) {}
  const char* name() const override { return "BatchNormBackward"; }
  void release() override {
    x_.reset();
    w_.reset();
  }
  std::vector<Tensor> apply(std::vector<Tensor>& grads) override {
    const Tensor x = x_.unpack(this), w = w_.defined() ? w_.unpack(this) : Tensor();
    const bool want_x = next_edges[0].fn != nullptr, want_w = next_edges[1].fn != nullptr,
               want_b = next_edges[2].fn != nullptr;
    const cpu::BatchNormDims d = bn_dims(x);
    const Tensor dy = grads[0].contiguous();
    std::vector<double> sum_dy(size_t(d.C)), sum_dy_xhat(size_t(d.C));
    Tensor dx = want_x ? empty(x.shape(), x.dtype(), Device::cpu) : Tensor();
    visit_floating(x.dtype(), "batch_norm", [&](auto tag) {
      using T = decltype(tag);
      const T* pw = w.defined() ? w.data<T>() : nullptr;
      over_channels(d, [&](int64_t c0, int64_t c1) {
        cpu::batch_norm_backward_sums(x.data<T>(), dy.data<T>(), d, c0, c1, mean_.data(), invstd_.data(),
                                      sum_dy.data(), sum_dy_xhat.data());
        if (want_x)
          cpu::batch_norm_backward_dx(x.data<T>(), dy.data<T>(), d, c0, c1, mean_.data(), invstd_.data(), pw,
                                      sum_dy.data(), sum_dy_xhat.data(), dx.data<T>());
      });
    });
    auto channel_tensor = [&](const std::vector<double>& v) { return from_vector(v).to(x.dtype()); };
    return {dx, want_w ? channel_tensor(sum_dy_xhat) : Tensor(), want_b ? channel_tensor(sum_dy) : Tensor()};
  }

 private:
  SavedTensor x_, w_;  // x contiguous
  std::vector<double> mean_, invstd_;
};

// Training mode on a cpu tensor: the statistics, the running-stat update and y in two passes over x.
Tensor batch_norm_training(const Tensor& x_in, const Tensor& running_mean, const Tensor& running_var,
                           const Tensor& weight, const Tensor& bias, double momentum, double eps) {
  const Tensor x = x_in.contiguous();
  const cpu::BatchNormDims d = bn_dims(x);
  std::vector<double> mean(size_t(d.C)), invstd(size_t(d.C)), var(size_t(d.C));
  Tensor y = empty(x.shape(), x.dtype(), Device::cpu);
  visit_floating(x.dtype(), "batch_norm", [&](auto tag) {
    using T = decltype(tag);
    const T* pw = weight.defined() ? weight.data<T>() : nullptr;
    const T* pb = bias.defined() ? bias.data<T>() : nullptr;
    over_channels(d, [&](int64_t c0, int64_t c1) {
      cpu::batch_norm_stats(x.data<T>(), d, c0, c1, eps, mean.data(), invstd.data(), var.data());
      cpu::batch_norm_forward(x.data<T>(), d, c0, c1, mean.data(), invstd.data(), pw, pb, y.data<T>());
    });
  });
  if (running_mean.defined()) {  // r = (1 - momentum) r + momentum * stat, the variance unbiased (torch)
    NoGradGuard no_grad;
    const double n = double(d.N) * double(d.S);
    Tensor rm = running_mean, rv = running_var;
    rm.mul_(1.0 - momentum).add_(from_vector(mean).to(x.dtype()), momentum);
    rv.mul_(1.0 - momentum).add_(from_vector(var).to(x.dtype()), momentum * n / (n - 1));
  }
  detail::record<BatchNormBackward>({&x_in, &weight, &bias}, y, x, weight, std::move(mean), std::move(invstd));
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
  const bool meta = x.is_meta() || (weight.defined() && weight.is_meta()) || (bias.defined() && bias.is_meta()) ||
                    (running_mean.defined() && (running_mean.is_meta() || running_var.is_meta()));
  if (!meta) {  // (on the meta device the composition below works out the shapes)
    const Tensor w = weight.defined() ? weight.contiguous() : weight, b = bias.defined() ? bias.contiguous() : bias;
    return batch_norm_training(x, running_mean, running_var, w, b, momentum, eps);
  }
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
