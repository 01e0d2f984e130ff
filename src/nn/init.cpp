// nn::init: PyTorch's initializers (torch/nn/init.py) over the global seeded generator.
#include "nerve/nn/init.h"

#include <cmath>

#include "nerve/autograd/grad_mode.h"
#include "nerve/ops/ops.h"

namespace nerve::nn::init {

namespace {
Tensor fill_from(const Tensor& t, const Tensor& src) {
  NoGradGuard g;
  Tensor dst = t;
  dst.copy_(src);
  return t;
}

void check_floating(const Tensor& t, const char* op) {
  NERVE_CHECK(t.defined(), "nn::init::", op, ": undefined tensor");
  NERVE_CHECK(is_floating(t.dtype()), "nn::init::", op, ": expected a floating tensor, got ", to_string(t.shape()), " ",
              dtype_name(t.dtype()));
}

double fan(const Tensor& t, FanMode mode) {
  auto [in, out] = calculate_fan_in_and_fan_out(t);
  return static_cast<double>(mode == FanMode::fan_in ? in : out);
}
}  // namespace

double calculate_gain(Nonlinearity nl, double param) {
  switch (nl) {
    case Nonlinearity::linear:
    case Nonlinearity::conv:
    case Nonlinearity::sigmoid: return 1.0;
    case Nonlinearity::tanh: return 5.0 / 3.0;
    case Nonlinearity::relu: return std::sqrt(2.0);
    case Nonlinearity::leaky_relu: return std::sqrt(2.0 / (1.0 + param * param));
    case Nonlinearity::selu: return 3.0 / 4.0;
  }
  return 1.0;
}

std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& t) {
  NERVE_CHECK(t.dim() >= 2, "nn::init: fan in and fan out can not be computed for a tensor with fewer than 2 dims (",
              to_string(t.shape()), ")");
  int64_t receptive = 1;
  for (int64_t d = 2; d < t.dim(); ++d) receptive *= t.shape()[d];
  return {t.shape()[1] * receptive, t.shape()[0] * receptive};
}

Tensor uniform_(const Tensor& t, double a, double b) {
  check_floating(t, "uniform_");
  DeviceGuard on(t.device());  // drawn where t lives (nothing is drawn for a meta t)
  return fill_from(t, uniform(t.shape(), a, b, t.dtype()));
}

Tensor normal_(const Tensor& t, double mean, double std) {
  check_floating(t, "normal_");
  NoGradGuard g;
  DeviceGuard on(t.device());
  return fill_from(t, randn(t.shape(), t.dtype()) * std + mean);
}

Tensor constant_(const Tensor& t, double value) {
  NERVE_CHECK(t.defined(), "nn::init::constant_: undefined tensor");
  NoGradGuard g;
  Tensor dst = t;
  dst.fill_(value);
  return t;
}
Tensor zeros_(const Tensor& t) { return constant_(t, 0.0); }
Tensor ones_(const Tensor& t) { return constant_(t, 1.0); }

Tensor xavier_uniform_(const Tensor& t, double gain) {
  check_floating(t, "xavier_uniform_");
  auto [in, out] = calculate_fan_in_and_fan_out(t);
  double std = gain * std::sqrt(2.0 / static_cast<double>(in + out));
  double a = std::sqrt(3.0) * std;
  return uniform_(t, -a, a);
}

Tensor xavier_normal_(const Tensor& t, double gain) {
  check_floating(t, "xavier_normal_");
  auto [in, out] = calculate_fan_in_and_fan_out(t);
  return normal_(t, 0.0, gain * std::sqrt(2.0 / static_cast<double>(in + out)));
}

Tensor kaiming_uniform_(const Tensor& t, double a, FanMode mode, Nonlinearity nl) {
  check_floating(t, "kaiming_uniform_");
  if (t.numel() == 0) return t;  // PyTorch: initializing a zero-element tensor is a no-op
  double std = calculate_gain(nl, a) / std::sqrt(fan(t, mode));
  double bound = std::sqrt(3.0) * std;
  return uniform_(t, -bound, bound);
}

Tensor kaiming_normal_(const Tensor& t, double a, FanMode mode, Nonlinearity nl) {
  check_floating(t, "kaiming_normal_");
  if (t.numel() == 0) return t;
  return normal_(t, 0.0, calculate_gain(nl, a) / std::sqrt(fan(t, mode)));
}

}  // namespace nerve::nn::init
