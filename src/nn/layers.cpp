// Linear, Flatten, Dropout and the functional dropout; the repr helper py_float.
#include "nerve/nn/layers.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "nerve/autograd/grad_mode.h"
#include "nerve/nn/init.h"
#include "nerve/ops/ops.h"
#include "nn/repr_util.h"
#include "nerve/core/profiler.h"

namespace nerve::nn {

namespace detail {

std::string py_float(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);  // shortest round trip
  std::string s(buf, res.ptr);
  std::string sign;
  if (s[0] == '-') {
    sign = "-";
    s.erase(0, 1);
  }
  size_t e = s.find('e');
  int exp = std::atoi(s.c_str() + e + 1);
  std::string digits = s.substr(0, e);
  if (digits.size() > 1) digits.erase(1, 1);  // drop the '.'
  std::string out = sign;
  if (exp < -4 || exp >= 16) {  // Python's 'r' format switches to scientific here
    out.append(digits, 0, 1);
    if (digits.size() > 1) out.append(".").append(digits, 1);
    std::string ex = std::to_string(std::abs(exp));
    out.append(exp < 0 ? "e-" : "e+").append(ex.size() < 2 ? "0" : "").append(ex);
  } else if (exp < 0) {
    out.append("0.").append(static_cast<size_t>(-exp - 1), '0').append(digits);
  } else if (digits.size() <= static_cast<size_t>(exp) + 1) {
    out.append(digits).append(static_cast<size_t>(exp) + 1 - digits.size(), '0').append(".0");
  } else {
    out.append(digits, 0, static_cast<size_t>(exp) + 1).append(".").append(digits, static_cast<size_t>(exp) + 1);
  }
  return out;
}

}  // namespace detail

// ------------------------------------------------------------------ dropout
namespace functional {

Tensor dropout(const Tensor& x, double p, bool training) {
  NERVE_RECORD_FUNCTION("dropout");
  nerve::detail::check_arg(x, "dropout", "x");
  NERVE_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability has to be between 0 and 1, but got ", p);
  if (!training || p == 0.0) return x;
  NERVE_CHECK(is_floating(x.dtype()), "dropout: expected a floating tensor, got ", to_string(x.shape()), " ",
              dtype_name(x.dtype()));
  if (p == 1.0) return x * zeros({}, x.dtype(), x.device());
  // mask = (u >= p) / (1 - p), u ~ U[0, 1) from the global generator (nothing drawn on meta)
  DeviceGuard on(x.device());
  Tensor mask = rand(x.shape(), x.dtype());
  if (!mask.is_meta()) visit_floating(x.dtype(), "dropout", [&](auto tag) {
    using T = decltype(tag);
    T* m = mask.data<T>();
    const T pt = static_cast<T>(p), scale = static_cast<T>(1.0 / (1.0 - p));
    const int64_t n = mask.numel();
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) m[i] = m[i] < pt ? T(0) : scale;
  });
  return x * mask;
}

}  // namespace functional

Dropout::Dropout(double p) : p_(p) {
  NERVE_CHECK(p >= 0.0 && p <= 1.0, "Dropout: probability has to be between 0 and 1, but got ", p);
}

Tensor Dropout::forward(const Tensor& x) { return functional::dropout(x, p_, is_training()); }

std::string Dropout::extra_repr() const {
  return std::string("p=").append(detail::py_float(p_)).append(", inplace=False");
}

// ------------------------------------------------------------------ Linear
Linear::Linear(int64_t in_features, int64_t out_features, bool bias, DType dtype)
    : Linear(LinearOptions{in_features, out_features, bias, dtype}) {}

Linear::Linear(const LinearOptions& o) : options_(o) {
  NERVE_CHECK(o.in >= 0 && o.out >= 0, "Linear: in_features and out_features must be >= 0, got in=", o.in,
              ", out=", o.out);
  NERVE_CHECK(is_floating(o.dtype), "Linear: dtype must be f32 or f64, got ", dtype_name(o.dtype));
  weight = register_parameter("weight", empty({o.out, o.in}, o.dtype));
  if (o.bias) bias = register_parameter("bias", empty({o.out}, o.dtype));
  reset_parameters();
}

void Linear::reset_parameters() {
  // PyTorch's Linear.reset_parameters: kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(in), 1/sqrt(in))
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    double bound = options_.in > 0 ? 1.0 / std::sqrt(static_cast<double>(options_.in)) : 0.0;
    init::uniform_(bias, -bound, bound);
  }
}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }

std::string Linear::extra_repr() const {
  return "in_features=" + std::to_string(options_.in) + ", out_features=" + std::to_string(options_.out) +
         ", bias=" + (options_.bias ? "True" : "False");
}

// ------------------------------------------------------------------ Flatten
Tensor Flatten::forward(const Tensor& x) { return flatten(x, start_dim_, end_dim_); }

std::string Flatten::extra_repr() const {
  return "start_dim=" + std::to_string(start_dim_) + ", end_dim=" + std::to_string(end_dim_);
}

}  // namespace nerve::nn
