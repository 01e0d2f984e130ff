// SGD with momentum/Nesterov (torch.optim.SGD, _single_tensor_sgd): one fused pass over p, g and the buffer.
#include "nerve/optim/sgd.h"

#include "nerve/ops/optim_step.h"
#include "optim/optim_util.h"

namespace nerve::optim {

Options SGDOptions::to_map() const {
  return {{"lr", lr},
          {"momentum", momentum},
          {"dampening", dampening},
          {"weight_decay", weight_decay},
          {"nesterov", nesterov ? 1.0 : 0.0}};
}

SGDOptions SGDOptions::from_map(const Options& m) {
  return {.lr = get_option(m, "lr"),
          .momentum = get_option(m, "momentum"),
          .dampening = get_option(m, "dampening"),
          .weight_decay = get_option(m, "weight_decay"),
          .nesterov = get_option(m, "nesterov") != 0.0};
}

SGD::SGD(std::vector<Tensor> params, const SGDOptions& options)
    : SGD(std::vector<ParamGroup>{ParamGroup{std::move(params), {}}}, options) {}

SGD::SGD(std::vector<ParamGroup> groups, const SGDOptions& defaults) : TypedOptimizer(std::move(groups), defaults) {
  validate_groups();
}

void SGD::validate(const SGDOptions& o) const {
  detail::check_nonneg("SGD", "learning rate", o.lr);
  detail::check_nonneg("SGD", "momentum", o.momentum);
  detail::check_nonneg("SGD", "weight_decay", o.weight_decay);
  NERVE_CHECK(!o.nesterov || (o.momentum > 0.0 && o.dampening == 0.0),
              "SGD: Nesterov momentum requires a momentum and zero dampening (momentum=", o.momentum,
              ", dampening=", o.dampening, ")");
}

// d = g + wd p; b = first ? d : momentum b + (1 - dampening) d; d = nesterov ? d + momentum b : b; p -= lr d
void SGD::update(const SGDOptions& o, const Tensor& param, const Tensor& grad, ParamState& state) {
  const bool first = !state.buffers.count("momentum_buffer");
  Tensor buf = o.momentum != 0.0 ? detail::buffer(state, "momentum_buffer", param) : Tensor();
  ++state.step;
  sgd_step_(param, grad, buf, first,
            {.lr = o.lr, .momentum = o.momentum, .dampening = o.dampening, .weight_decay = o.weight_decay,
             .nesterov = o.nesterov});
}

}  // namespace nerve::optim
