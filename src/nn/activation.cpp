// Activation modules: each forward is one op from nerve/ops/ops.h.
#include "nerve/nn/activation.h"

#include "nerve/ops/ops.h"
#include "nn/repr_util.h"

namespace nerve::nn {

Tensor ReLU::forward(const Tensor& x) { return relu(x); }
Tensor ReLU6::forward(const Tensor& x) { return clamp(x, 0.0, 6.0); }
Tensor LeakyReLU::forward(const Tensor& x) { return leaky_relu(x, negative_slope_); }
std::string LeakyReLU::extra_repr() const { return "negative_slope=" + detail::py_float(negative_slope_); }
Tensor Sigmoid::forward(const Tensor& x) { return sigmoid(x); }
Tensor Tanh::forward(const Tensor& x) { return tanh(x); }

GELU::GELU(std::string approximate) : approximate_(std::move(approximate)) {
  NERVE_CHECK(approximate_ == "none" || approximate_ == "tanh", "GELU: approximate must be 'none' or 'tanh', got '",
              approximate_, "'");
}
Tensor GELU::forward(const Tensor& x) { return gelu(x, approximate_); }

Tensor Softmax::forward(const Tensor& x) { return softmax(x, dim_); }
Tensor LogSoftmax::forward(const Tensor& x) { return log_softmax(x, dim_); }

}  // namespace nerve::nn
