// Adagrad (torch.optim.Adagrad, _single_tensor_adagrad): one fused pass over p, g and the squared-gradient sum.
#include "nerve/optim/adagrad.h"

#include <cmath>

#include "optim/optim_util.h"

namespace nerve::optim {

Options AdagradOptions::to_map() const {
  return {{"lr", lr},
          {"lr_decay", lr_decay},
          {"weight_decay", weight_decay},
          {"initial_accumulator_value", initial_accumulator_value},
          {"eps", eps}};
}

AdagradOptions AdagradOptions::from_map(const Options& m) {
  return {.lr = get_option(m, "lr"),
          .lr_decay = get_option(m, "lr_decay"),
          .weight_decay = get_option(m, "weight_decay"),
          .initial_accumulator_value = get_option(m, "initial_accumulator_value"),
          .eps = get_option(m, "eps")};
}

Adagrad::Adagrad(std::vector<Tensor> params, const AdagradOptions& options)
    : Adagrad(std::vector<ParamGroup>{ParamGroup{std::move(params), {}}}, options) {}

Adagrad::Adagrad(std::vector<ParamGroup> groups, const AdagradOptions& defaults)
    : TypedOptimizer(std::move(groups), defaults) {
  validate_groups();
}

void Adagrad::validate(const AdagradOptions& o) const {
  detail::check_nonneg("Adagrad", "learning rate", o.lr);
  detail::check_nonneg("Adagrad", "lr_decay", o.lr_decay);
  detail::check_nonneg("Adagrad", "weight_decay", o.weight_decay);
  detail::check_nonneg("Adagrad", "initial_accumulator_value", o.initial_accumulator_value);
  detail::check_nonneg("Adagrad", "epsilon", o.eps);
}

// t += 1; d = g + wd p; clr = lr / (1 + (t - 1) lr_decay); s += d^2; p -= clr d / (sqrt(s) + eps)
void Adagrad::update(const AdagradOptions& o, const Tensor& param, const Tensor& grad, ParamState& state) {
  const double lr = o.lr, lr_decay = o.lr_decay, wd = o.weight_decay, eps = o.eps;
  Tensor& sum_buf = detail::buffer(state, "sum", param, o.initial_accumulator_value);
  const int64_t t = ++state.step;
  const double clr = lr / (1.0 + static_cast<double>(t - 1) * lr_decay);
  visit_floating(param.dtype(), "Adagrad", [&](auto tag) {
    using T = decltype(tag);
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* s = sum_buf.data<T>();
    const T w = static_cast<T>(wd), e = static_cast<T>(eps), neg_clr = static_cast<T>(-clr);
    detail::for_range(param.numel(), [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        T d = g[i];
        if (wd != 0.0) d = d + w * p[i];
        s[i] = s[i] + d * d;
        p[i] = p[i] + neg_clr * (d / (std::sqrt(s[i]) + e));
      }
    });
  });
}

}  // namespace nerve::optim
