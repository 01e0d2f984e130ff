// Finite-difference gradient check: central differences of sum(f(x) * r) against autograd's gradients.
#include "nerve/ops/gradcheck.h"

#include <cmath>

#include "nerve/autograd/grad_mode.h"
#include "nerve/ops/ops.h"

namespace nerve {

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, std::vector<Tensor> inputs,
                          double eps, double atol, double rtol) {
  GradcheckResult res;
  // the perturbation below writes doubles into each floating input, and f32 finite differences are noise anyway
  for (size_t k = 0; k < inputs.size(); ++k)
    NERVE_CHECK(inputs[k].defined(), "gradcheck: input ", k, " is an undefined tensor");
  for (size_t k = 0; k < inputs.size(); ++k)
    NERVE_CHECK(!is_floating(inputs[k].dtype()) || inputs[k].dtype() == DType::f64, "gradcheck: input ", k,
                " is ", inputs[k].dtype(), " ", to_string(inputs[k].shape()),
                ", expected f64 (finite differences need double precision; pass x.to(DType::f64))");
  for (Tensor& t : inputs)
    if (is_floating(t.dtype())) t = t.detach().contiguous().clone().requires_grad_(true);
  Tensor y0 = f(inputs);
  Tensor r = randn(y0.shape(), y0.dtype());  // random upstream gradient
  auto objective = [&](const std::vector<Tensor>& in) {
    NoGradGuard g;
    Tensor y = f(in);
    return sum(y * r).item<double>();
  };
  sum(y0 * r).backward();
  for (size_t k = 0; k < inputs.size(); ++k) {
    Tensor& x = inputs[k];
    if (!x.requires_grad()) continue;
    Tensor ga = x.grad();
    std::vector<double> analytic = ga.defined() ? ga.to(DType::f64).to_vector<double>()
                                                : std::vector<double>(static_cast<size_t>(x.numel()), 0.0);
    for (int64_t i = 0; i < x.numel(); ++i) {
      double* p = static_cast<double*>(x.raw_data()) + i;
      double orig = *p;
      *p = orig + eps;
      double fp = objective(inputs);
      *p = orig - eps;
      double fm = objective(inputs);
      *p = orig;
      double numeric = (fp - fm) / (2 * eps);
      double err = std::abs(numeric - analytic[i]);
      res.max_abs_err = std::max(res.max_abs_err, err);
      if (err > atol + rtol * std::abs(numeric) && res.ok) {
        res.ok = false;
        res.message = detail::str_cat("input ", k, " element ", i, ": numeric ", numeric, " vs analytic ",
                                      analytic[i]);
      }
    }
  }
  return res;
}

}  // namespace nerve
