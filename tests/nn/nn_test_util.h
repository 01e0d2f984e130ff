// Test helpers for nn: a finite-difference check of a module's input and parameter gradients (f64).
#pragma once
#include <gtest/gtest.h>
#include <nerve/nerve.h>
#include <nerve/nn/module.h>

#include <cmath>
#include <string>

namespace nerve::testing {

/// Compares autograd's gradients of sum(m(x) * r) (r random) w.r.t. x and every parameter of m against
/// central differences. x and the parameters must be f64.
inline ::testing::AssertionResult module_gradcheck(nn::Module& m, const Tensor& x_in, double eps = 1e-6,
                                                   double atol = 1e-6, double rtol = 1e-5) {
  Tensor x = x_in.detach().clone().requires_grad_(true);
  Tensor y = m.forward(x);
  Tensor r = randn(y.shape(), DType::f64);
  m.zero_grad();
  sum(y * r).backward();
  auto objective = [&] {
    NoGradGuard g;
    return sum(m.forward(x) * r).item<double>();
  };
  std::vector<std::pair<std::string, Tensor>> targets{{"input", x}};
  for (auto& [name, p] : m.named_parameters()) targets.emplace_back(name, p);
  for (auto& [name, t] : targets) {
    if (t.dtype() != DType::f64) return ::testing::AssertionFailure() << name << " is not f64";
    Tensor ga = t.grad();
    std::vector<double> analytic =
        ga.defined() ? ga.to_vector<double>() : std::vector<double>(static_cast<size_t>(t.numel()), 0.0);
    double* data = t.data<double>();
    for (int64_t i = 0; i < t.numel(); ++i) {
      double orig = data[i];
      data[i] = orig + eps;
      double fp = objective();
      data[i] = orig - eps;
      double fm = objective();
      data[i] = orig;
      double numeric = (fp - fm) / (2 * eps);
      if (std::abs(numeric - analytic[static_cast<size_t>(i)]) > atol + rtol * std::abs(numeric))
        return ::testing::AssertionFailure() << name << " element " << i << ": numeric " << numeric << " vs analytic "
                                             << analytic[static_cast<size_t>(i)];
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace nerve::testing
