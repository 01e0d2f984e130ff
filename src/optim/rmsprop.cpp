// RMSprop (torch.optim.RMSprop, _single_tensor_rmsprop): one fused pass over p, g and the averages.
#include "nerve/optim/rmsprop.h"

#include <cmath>

#include "optim/optim_util.h"

namespace nerve::optim {

Options RMSpropOptions::to_map() const {
  return {{"lr", lr},
          {"alpha", alpha},
          {"eps", eps},
          {"weight_decay", weight_decay},
          {"momentum", momentum},
          {"centered", centered ? 1.0 : 0.0}};
}

RMSpropOptions RMSpropOptions::from_map(const Options& m) {
  return {.lr = get_option(m, "lr"),
          .alpha = get_option(m, "alpha"),
          .eps = get_option(m, "eps"),
          .weight_decay = get_option(m, "weight_decay"),
          .momentum = get_option(m, "momentum"),
          .centered = get_option(m, "centered") != 0.0};
}

RMSprop::RMSprop(std::vector<Tensor> params, const RMSpropOptions& options)
    : RMSprop(std::vector<ParamGroup>{ParamGroup{std::move(params), {}}}, options) {}

RMSprop::RMSprop(std::vector<ParamGroup> groups, const RMSpropOptions& defaults)
    : TypedOptimizer(std::move(groups), defaults) {
  validate_groups();
}

void RMSprop::validate(const RMSpropOptions& o) const {
  detail::check_nonneg("RMSprop", "learning rate", o.lr);
  detail::check_nonneg("RMSprop", "epsilon", o.eps);
  detail::check_nonneg("RMSprop", "momentum", o.momentum);
  detail::check_nonneg("RMSprop", "weight_decay", o.weight_decay);
  detail::check_nonneg("RMSprop", "alpha", o.alpha);
}

// d = g + wd p; s = alpha s + (1 - alpha) d^2; centered: a = alpha a + (1 - alpha) d, avg = sqrt(s - a^2) + eps,
// else avg = sqrt(s) + eps; momentum: b = momentum b + d / avg, p -= lr b; else p -= lr d / avg
void RMSprop::update(const RMSpropOptions& o, const Tensor& param, const Tensor& grad, ParamState& state) {
  const double lr = o.lr, alpha = o.alpha, eps = o.eps, wd = o.weight_decay, momentum = o.momentum;
  const bool centered = o.centered;
  Tensor& sq_buf = detail::buffer(state, "square_avg", param);
  Tensor avg_buf = centered ? detail::buffer(state, "grad_avg", param) : Tensor();
  Tensor mom_buf = momentum > 0.0 ? detail::buffer(state, "momentum_buffer", param) : Tensor();
  ++state.step;
  visit_floating(param.dtype(), "RMSprop", [&](auto tag) {
    using T = decltype(tag);
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* sq = sq_buf.data<T>();
    T* ga = centered ? avg_buf.data<T>() : nullptr;
    T* b = momentum > 0.0 ? mom_buf.data<T>() : nullptr;
    const T a = static_cast<T>(alpha), one_m_a = static_cast<T>(1.0 - alpha), w = static_cast<T>(wd),
            e = static_cast<T>(eps), mom = static_cast<T>(momentum), neg_lr = static_cast<T>(-lr);
    detail::for_range(param.numel(), [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        T d = g[i];
        if (wd != 0.0) d = d + w * p[i];
        sq[i] = sq[i] * a + one_m_a * d * d;
        T avg;
        if (ga) {
          ga[i] = ga[i] * a + one_m_a * d;
          avg = std::sqrt(sq[i] - ga[i] * ga[i]) + e;
        } else {
          avg = std::sqrt(sq[i]) + e;
        }
        if (b) {
          b[i] = b[i] * mom + d / avg;
          p[i] = p[i] + neg_lr * b[i];
        } else {
          p[i] = p[i] + neg_lr * (d / avg);
        }
      }
    });
  });
}

}  // namespace nerve::optim
