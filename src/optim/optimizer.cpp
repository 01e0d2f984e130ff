// Optimizer bookkeeping: groups with defaults merged in, step() dispatch, zero_grad, state_dict round trip.
#include "nerve/optim/optimizer.h"

#include <set>

#include "nerve/autograd/grad.h"
#include "nerve/autograd/grad_mode.h"
#include "nerve/ops/ops.h"
#include "nerve/core/profiler.h"

namespace nerve::optim {

double get_option(const Options& options, const std::string& key) {
  auto it = options.find(key);
  NERVE_CHECK(it != options.end(), "optimizer: param group has no option '", key, "'");
  return it->second;
}

Optimizer::Optimizer(std::vector<ParamGroup> groups, Options defaults) : defaults_(std::move(defaults)) {
  NERVE_CHECK(!groups.empty(), "optimizer: got an empty list of parameter groups");
  for (auto& g : groups) add_group(std::move(g));
}

void Optimizer::add_param_group(ParamGroup group) {
  add_group(std::move(group));
  try {
    validate_group(groups_.back());
  } catch (...) {
    groups_.pop_back();
    throw;
  }
}

void Optimizer::add_group(ParamGroup group) {
  NERVE_CHECK(!group.params.empty(), "optimizer: got an empty parameter list");
  for (const auto& [k, v] : group.options)
    NERVE_CHECK(defaults_.count(k), "optimizer: unknown option '", k, "' in a parameter group");
  for (const auto& [k, v] : defaults_) group.options.emplace(k, v);  // keeps the group's own values
  std::set<const TensorImpl*> seen;
  for (const auto& g : groups_)
    for (const auto& p : g.params) seen.insert(p.impl());
  for (size_t i = 0; i < group.params.size(); ++i) {
    const Tensor& p = group.params[i];
    NERVE_CHECK(p.defined(), "optimizer: parameter ", i, " of group ", groups_.size(), " is undefined");
    NERVE_CHECK(is_floating(p.dtype()), "optimizer: can only optimize f32/f64 tensors, got parameter ", i, " ",
                to_string(p.shape()), " ", dtype_name(p.dtype()));
    NERVE_CHECK(p.is_leaf(), "optimizer: can't optimize a non-leaf tensor (parameter ", i, " ", to_string(p.shape()),
                "); pass the leaves, e.g. model->parameters()");
    NERVE_CHECK(seen.insert(p.impl()).second, "optimizer: some parameters appear in more than one parameter group",
                " (parameter ", i, " ", to_string(p.shape()), ")");
  }
  groups_.push_back(std::move(group));
}

void Optimizer::set_lr(double lr) {
  for (auto& g : groups_) g.set_lr(lr);
}

void Optimizer::step() {
  NERVE_RECORD_FUNCTION("Optimizer.step");
  NoGradGuard no_grad;
  for (const ParamGroup& group : groups_) step_group(group);
}

void Optimizer::check_grad(const Tensor& p, const Tensor& g) const {
  NERVE_CHECK(g.shape() == p.shape() && g.dtype() == p.dtype(), type_name(), ".step: gradient ", to_string(g.shape()),
              " ", dtype_name(g.dtype()), " does not match parameter ", to_string(p.shape()), " ",
              dtype_name(p.dtype()));
  NERVE_CHECK(p.is_contiguous(), type_name(), ".step: parameter ", to_string(p.shape()),
              " is not contiguous; optimizers update contiguous parameters in place");
}

Tensor Optimizer::step(const std::function<Tensor()>& closure) {
  NERVE_CHECK(static_cast<bool>(closure), type_name(), ".step: the closure is empty");
  Tensor loss;
  {
    EnableGradGuard enable;  // the closure runs backward even when the caller is under no_grad
    loss = closure();
  }
  step();
  return loss;
}

void Optimizer::zero_grad(bool set_to_none) {
  for (const auto& group : groups_) nerve::zero_grad(group.params, set_to_none);
}

OptimizerStateDict Optimizer::state_dict() const {
  OptimizerStateDict sd;
  int64_t index = 0;
  for (const auto& group : groups_) {
    OptimizerStateDict::Group g{group.options, {}};
    for (const auto& p : group.params) {
      auto it = state_.find(p.impl());
      if (it != state_.end()) {
        ParamState s{it->second.step, {}};
        for (const auto& [k, t] : it->second.buffers) s.buffers[k] = t.clone();
        sd.state[index] = std::move(s);
      }
      g.params.push_back(index++);
    }
    sd.param_groups.push_back(std::move(g));
  }
  return sd;
}

void Optimizer::load_state_dict(const OptimizerStateDict& sd) {
  NERVE_CHECK(sd.param_groups.size() == groups_.size(), type_name(), ".load_state_dict: loaded state dict has ",
              sd.param_groups.size(), " parameter groups, the optimizer has ", groups_.size());
  std::vector<const Tensor*> by_index;
  for (size_t i = 0; i < groups_.size(); ++i) {
    NERVE_CHECK(sd.param_groups[i].params.size() == groups_[i].params.size(), type_name(), ".load_state_dict: group ",
                i, " has ", sd.param_groups[i].params.size(), " parameters in the state dict but ",
                groups_[i].params.size(), " in the optimizer");
    for (const auto& p : groups_[i].params) by_index.push_back(&p);
  }
  std::unordered_map<const TensorImpl*, ParamState> state;
  for (const auto& [index, s] : sd.state) {
    NERVE_CHECK(index >= 0 && index < static_cast<int64_t>(by_index.size()), type_name(),
                ".load_state_dict: state for parameter ", index, " but there are ", by_index.size(), " parameters");
    const Tensor& p = *by_index[static_cast<size_t>(index)];
    ParamState copy{s.step, {}};
    for (const auto& [k, t] : s.buffers) {
      NERVE_CHECK(t.shape() == p.shape(), type_name(), ".load_state_dict: state '", k, "' of parameter ", index, " is ",
                  to_string(t.shape()), ", the parameter is ", to_string(p.shape()));
      copy.buffers[k] = t.to(p.dtype()).contiguous().clone();
    }
    state[p.impl()] = std::move(copy);
  }
  for (size_t i = 0; i < groups_.size(); ++i) {
    ParamGroup candidate{groups_[i].params, sd.param_groups[i].options};
    validate_group(candidate);
  }
  for (size_t i = 0; i < groups_.size(); ++i) groups_[i].options = sd.param_groups[i].options;
  state_ = std::move(state);
}

}  // namespace nerve::optim
