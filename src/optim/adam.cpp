// Adam / AdamW (torch.optim.Adam/AdamW, _single_tensor_adam(w)): one fused pass over p, g, m, v (and v_max).
#include "nerve/optim/adam.h"

#include <algorithm>
#include <cmath>

#include "optim/optim_util.h"

namespace nerve::optim {

namespace {
Options adam_map(double lr, double b1, double b2, double eps, double wd, bool amsgrad) {
  return {{"lr", lr}, {"beta1", b1}, {"beta2", b2}, {"eps", eps}, {"weight_decay", wd}, {"amsgrad", amsgrad ? 1.0 : 0.0}};
}
}  // namespace

Options AdamOptions::to_map() const { return adam_map(lr, beta1, beta2, eps, weight_decay, amsgrad); }
Options AdamWOptions::to_map() const { return adam_map(lr, beta1, beta2, eps, weight_decay, amsgrad); }

Adam::Adam(std::vector<Tensor> params, const AdamOptions& options)
    : Adam(std::vector<ParamGroup>{ParamGroup{std::move(params), {}}}, options.to_map(), false) {}
Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& defaults)
    : Adam(std::move(groups), defaults.to_map(), false) {}
Adam::Adam(std::vector<ParamGroup> groups, Options defaults, bool decoupled)
    : Optimizer(std::move(groups), std::move(defaults)), decoupled_(decoupled) {
  validate_groups();
}

AdamW::AdamW(std::vector<Tensor> params, const AdamWOptions& options)
    : Adam(std::vector<ParamGroup>{ParamGroup{std::move(params), {}}}, options.to_map(), true) {}
AdamW::AdamW(std::vector<ParamGroup> groups, const AdamWOptions& defaults)
    : Adam(std::move(groups), defaults.to_map(), true) {}

void Adam::validate(const ParamGroup& g) const {
  const char* name = decoupled_ ? "AdamW" : "Adam";
  detail::check_nonneg(name, "learning rate", g.get("lr"));
  detail::check_nonneg(name, "epsilon", g.get("eps"));
  detail::check_beta(name, "beta1", g.get("beta1"));
  detail::check_beta(name, "beta2", g.get("beta2"));
  detail::check_nonneg(name, "weight_decay", g.get("weight_decay"));
}

// t += 1; Adam: d = g + wd p, AdamW: p *= 1 - lr wd, d = g; m = b1 m + (1 - b1) d; v = b2 v + (1 - b2) d^2;
// v_hat = amsgrad ? (v_max = max(v_max, v)) : v; p -= lr / (1 - b1^t) * m / (sqrt(v_hat) / sqrt(1 - b2^t) + eps)
void Adam::update(const ParamGroup& group, const Tensor& param, const Tensor& grad, ParamState& state) {
  const double lr = group.get("lr"), b1 = group.get("beta1"), b2 = group.get("beta2"), eps = group.get("eps"),
               wd = group.get("weight_decay");
  const bool amsgrad = group.get("amsgrad") != 0.0;
  Tensor& m_buf = detail::buffer(state, "exp_avg", param);
  Tensor& v_buf = detail::buffer(state, "exp_avg_sq", param);
  Tensor vmax_buf = amsgrad ? detail::buffer(state, "max_exp_avg_sq", param) : Tensor();
  const int64_t t = ++state.step;
  const double step_size = lr / (1.0 - std::pow(b1, static_cast<double>(t)));
  const double bc2_sqrt = std::sqrt(1.0 - std::pow(b2, static_cast<double>(t)));
  visit_floating(param.dtype(), type_name().c_str(), [&](auto tag) {
    using T = decltype(tag);
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T *m = m_buf.data<T>(), *v = v_buf.data<T>(), *vmax = amsgrad ? vmax_buf.data<T>() : nullptr;
    const T beta1 = static_cast<T>(b1), beta2 = static_cast<T>(b2), one_m_b1 = static_cast<T>(1.0 - b1),
            one_m_b2 = static_cast<T>(1.0 - b2), w = static_cast<T>(wd), decay = static_cast<T>(1.0 - lr * wd),
            neg_step = static_cast<T>(-step_size), bc2 = static_cast<T>(bc2_sqrt), e = static_cast<T>(eps);
    const bool coupled_wd = !decoupled_ && wd != 0.0, decoupled_wd = decoupled_ && wd != 0.0;
    detail::for_range(param.numel(), [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        T d = g[i];
        if (coupled_wd) d = d + w * p[i];
        if (decoupled_wd) p[i] = p[i] * decay;
        m[i] = m[i] * beta1 + one_m_b1 * d;
        v[i] = v[i] * beta2 + one_m_b2 * d * d;
        T vh = v[i];
        if (vmax) vh = vmax[i] = std::max(vmax[i], v[i]);
        T denom = std::sqrt(vh) / bc2 + e;
        p[i] = p[i] + neg_step * (m[i] / denom);
      }
    });
  });
}

}  // namespace nerve::optim
