// Finite-difference gradient check (f64 inputs, random upstream gradient) for tests.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "nerve/tensor/tensor.h"

namespace nerve {

struct GradcheckResult {
  bool ok = true;
  double max_abs_err = 0.0;
  std::string message;  // which input and element failed
};

/// Compares autograd's input gradients of sum(f(inputs) * r) (r random) against central differences.
/// Floating inputs must be f64 (an f32 input throws nerve::Error); integer inputs are passed through unchanged.
///   auto res = gradcheck([](auto& in) { return tanh(in[0]); }, {randn({3, 4}, DType::f64)});
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, std::vector<Tensor> inputs,
                          double eps = 1e-6, double atol = 1e-5, double rtol = 1e-4);

}  // namespace nerve
