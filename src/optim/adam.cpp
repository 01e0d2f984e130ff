// Adam / AdamW (torch.optim.Adam/AdamW, _single_tensor_adam(w)): one fused pass over p, g, m, v (and v_max).
#include "nerve/optim/adam.h"

#include <algorithm>
#include <cmath>

#include "nerve/ops/optim_step.h"
#include "optim/optim_util.h"

namespace nerve::optim {

Options AdamOptions::to_map() const {
  return {{"lr", lr},   {"beta1", beta1}, {"beta2", beta2}, {"eps", eps}, {"weight_decay", weight_decay},
          {"amsgrad", amsgrad ? 1.0 : 0.0}};
}
Options AdamWOptions::to_map() const { return adam().to_map(); }

AdamOptions AdamOptions::from_map(const Options& m) {
  return {.lr = get_option(m, "lr"),
          .beta1 = get_option(m, "beta1"),
          .beta2 = get_option(m, "beta2"),
          .eps = get_option(m, "eps"),
          .weight_decay = get_option(m, "weight_decay"),
          .amsgrad = get_option(m, "amsgrad") != 0.0};
}

Adam::Adam(std::vector<Tensor> params, const AdamOptions& options)
    : Adam(std::vector<ParamGroup>{ParamGroup{std::move(params), {}}}, options, false) {}
Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& defaults) : Adam(std::move(groups), defaults, false) {}
Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& defaults, bool decoupled)
    : TypedOptimizer(std::move(groups), defaults), decoupled_(decoupled) {
  validate_groups();
}

AdamW::AdamW(std::vector<Tensor> params, const AdamWOptions& options)
    : Adam(std::vector<ParamGroup>{ParamGroup{std::move(params), {}}}, options.adam(), true) {}
AdamW::AdamW(std::vector<ParamGroup> groups, const AdamWOptions& defaults)
    : Adam(std::move(groups), defaults.adam(), true) {}

void Adam::validate(const AdamOptions& o) const {
  const char* name = decoupled_ ? "AdamW" : "Adam";
  detail::check_nonneg(name, "learning rate", o.lr);
  detail::check_nonneg(name, "epsilon", o.eps);
  detail::check_beta(name, "beta1", o.beta1);
  detail::check_beta(name, "beta2", o.beta2);
  detail::check_nonneg(name, "weight_decay", o.weight_decay);
}

// t += 1; Adam: d = g + wd p, AdamW: p *= 1 - lr wd, d = g; m = b1 m + (1 - b1) d; v = b2 v + (1 - b2) d^2;
// v_hat = amsgrad ? (v_max = max(v_max, v)) : v; p -= lr / (1 - b1^t) * m / (sqrt(v_hat) / sqrt(1 - b2^t) + eps)
void Adam::update(const AdamOptions& o, const Tensor& param, const Tensor& grad, ParamState& state) {
  const bool amsgrad = o.amsgrad;
  Tensor& m_buf = detail::buffer(state, "exp_avg", param);
  Tensor& v_buf = detail::buffer(state, "exp_avg_sq", param);
  Tensor vmax_buf = amsgrad ? detail::buffer(state, "max_exp_avg_sq", param) : Tensor();
  const int64_t t = ++state.step;
  adam_step_(param, grad, m_buf, v_buf, vmax_buf, t,
             {.lr = o.lr, .beta1 = o.beta1, .beta2 = o.beta2, .eps = o.eps, .weight_decay = o.weight_decay,
              .decoupled_weight_decay = decoupled_});
}

}  // namespace nerve::optim
