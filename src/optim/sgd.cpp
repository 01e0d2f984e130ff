// SGD with momentum/Nesterov (torch.optim.SGD, _single_tensor_sgd): one fused pass over p, g and the buffer.
#include "nerve/optim/sgd.h"

#include "backend/cpu/optim_kernels.h"
#include "optim/optim_util.h"

namespace nerve::optim {

Options SGDOptions::to_map() const {
  return {{"lr", lr},
          {"momentum", momentum},
          {"dampening", dampening},
          {"weight_decay", weight_decay},
          {"nesterov", nesterov ? 1.0 : 0.0}};
}

SGD::SGD(std::vector<Tensor> params, const SGDOptions& options)
    : SGD(std::vector<ParamGroup>{ParamGroup{std::move(params), {}}}, options) {}

SGD::SGD(std::vector<ParamGroup> groups, const SGDOptions& defaults) : Optimizer(std::move(groups), defaults.to_map()) {
  validate_groups();
}

void SGD::validate(const ParamGroup& g) const {
  detail::check_nonneg("SGD", "learning rate", g.get("lr"));
  detail::check_nonneg("SGD", "momentum", g.get("momentum"));
  detail::check_nonneg("SGD", "weight_decay", g.get("weight_decay"));
  NERVE_CHECK(g.get("nesterov") == 0.0 || (g.get("momentum") > 0.0 && g.get("dampening") == 0.0),
              "SGD: Nesterov momentum requires a momentum and zero dampening (momentum=", g.get("momentum"),
              ", dampening=", g.get("dampening"), ")");
}

// d = g + wd p; b = first ? d : momentum b + (1 - dampening) d; d = nesterov ? d + momentum b : b; p -= lr d
void SGD::update(const ParamGroup& group, const Tensor& param, const Tensor& grad, ParamState& state) {
  const double lr = group.get("lr"), momentum = group.get("momentum"), dampening = group.get("dampening"),
               wd = group.get("weight_decay");
  const bool nesterov = group.get("nesterov") != 0.0;
  const bool first = !state.buffers.count("momentum_buffer");
  Tensor buf = momentum != 0.0 ? detail::buffer(state, "momentum_buffer", param) : Tensor();
  ++state.step;
  const cpu::SgdScalars s{-lr, momentum, dampening, wd, first, nesterov};
  visit_floating(param.dtype(), "SGD", [&](auto tag) {
    using T = decltype(tag);
    cpu::sgd_step(param.data<T>(), grad.data<T>(), buf.defined() ? buf.data<T>() : nullptr, param.numel(), s);
  });
}

}  // namespace nerve::optim
