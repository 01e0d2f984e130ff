// optim::Optimizer: parameter groups (params + hyper-parameters, PyTorch's param_groups), per-parameter state,
// step() running one fused update loop per parameter, zero_grad, and in-memory state_dict/load_state_dict.
#pragma once
#include <functional>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "nerve/tensor/tensor.h"

namespace nerve::optim {

/// Hyper-parameters by name ("lr", "momentum", "beta1", ...); booleans are stored as 0 or 1.
using Options = std::map<std::string, double>;

/// The value of `key` in `options`; throws nerve::Error naming the key when absent.
double get_option(const Options& options, const std::string& key);

/// Parameters sharing hyper-parameters. Options missing here are filled from the optimizer's defaults.
///   optim::SGD opt({{encoder->parameters(), {{"lr", 1e-3}}}, {head->parameters()}}, {.lr = 1e-2});
struct ParamGroup {
  std::vector<Tensor> params;
  Options options;

  /// The value of an option; throws naming the key when absent.
  double get(const std::string& key) const { return get_option(options, key); }
  double lr() const { return get("lr"); }
  void set_lr(double lr) { options["lr"] = lr; }
};

/// A parameter's optimizer state: its step count and named buffers ("exp_avg", "momentum_buffer", ...).
struct ParamState {
  int64_t step = 0;
  std::map<std::string, Tensor> buffers;
};

/// What state_dict() returns: PyTorch's {"state": {index: ...}, "param_groups": [...]} with parameters numbered
/// across groups in order. Tensors are copies.
struct OptimizerStateDict {
  struct Group {
    Options options;
    std::vector<int64_t> params;  // parameter indices
  };
  std::vector<Group> param_groups;
  std::map<int64_t, ParamState> state;
};

/// Base class of the optimizers (derive from TypedOptimizer below). Parameters must be contiguous floating leaves;
/// gradients must match their dtype and shape. Parameters without a gradient are skipped by step().
///   opt.zero_grad(); loss.backward(); opt.step();
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  virtual std::string type_name() const = 0;
  /// Applies one update to every parameter that has a gradient.
  void step();
  /// PyTorch's step(closure): evaluates closure() with gradients enabled (it computes the loss and calls
  /// backward), then updates; returns the closure's loss.
  ///   Tensor loss = opt.step([&] { opt.zero_grad(); Tensor l = F::mse_loss(model(x), y); l.backward(); return l; });
  Tensor step(const std::function<Tensor()>& closure);
  /// Sets gradients to undefined (set_to_none, PyTorch's default) or to zero.
  void zero_grad(bool set_to_none = true);
  /// Adds a group; its missing options come from the defaults.
  void add_param_group(ParamGroup group);

  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  const Options& defaults() const { return defaults_; }
  /// Learning rate of the first group, and a setter for all groups (Keras's optimizer.learning_rate).
  double lr() const { return groups_.at(0).lr(); }
  void set_lr(double lr);
  /// The state of one parameter (created empty on first use).
  ParamState& state(const Tensor& param) { return state_[param.impl()]; }

  OptimizerStateDict state_dict() const;
  /// Restores hyper-parameters and state; group count and sizes must match this optimizer's.
  void load_state_dict(const OptimizerStateDict& sd);

 protected:
  Optimizer(std::vector<ParamGroup> groups, Options defaults);
  /// Checks a group's merged options (e.g. lr >= 0); throws nerve::Error naming the optimizer.
  virtual void validate_group(const ParamGroup& group) const = 0;
  /// Updates the parameters of one group that have a gradient (calls for_each_grad).
  virtual void step_group(const ParamGroup& group) = 0;
  /// Derived constructors call this once their validate_group() is callable.
  void validate_groups() const {
    for (const auto& g : groups_) validate_group(g);
  }
  /// Calls f(param, grad, state) for each parameter of `group` that has a gradient (checked against the parameter,
  /// made contiguous), then bumps the parameter's version.
  template <class F>
  void for_each_grad(const ParamGroup& group, const F& f) {
    for (const Tensor& p : group.params) {
      Tensor g = p.grad();
      if (!g.defined()) continue;
      check_grad(p, g);
      f(p, g.is_contiguous() ? g : g.contiguous(), state_[p.impl()]);
      p.bump_version();
    }
  }

 private:
  void add_group(ParamGroup group);
  void check_grad(const Tensor& param, const Tensor& grad) const;

  std::vector<ParamGroup> groups_;
  Options defaults_;
  std::unordered_map<const TensorImpl*, ParamState> state_;
};

/// An optimizer whose hyper-parameters are the aggregate Opts (SGDOptions, AdamOptions, ...), which provides
/// `Options to_map() const` and `static Opts from_map(const Options&)`. A group's options map stays what users,
/// schedulers and state_dict read and write (PyTorch's param_group dict); step() reads it into an Opts once per group,
/// so the per-parameter update sees plain fields, never a string lookup.
///   class SGD : public TypedOptimizer<SGDOptions> { void update(const SGDOptions& o, ...) override; ... };
template <class Opts>
class TypedOptimizer : public Optimizer {
 protected:
  TypedOptimizer(std::vector<ParamGroup> groups, const Opts& defaults)
      : Optimizer(std::move(groups), defaults.to_map()) {}
  /// Checks one group's options (e.g. lr >= 0); throws nerve::Error naming the optimizer.
  virtual void validate(const Opts& options) const = 0;
  /// Updates p in place from grad (same shape and dtype, both contiguous); state.step counts previous steps.
  virtual void update(const Opts& options, const Tensor& param, const Tensor& grad, ParamState& state) = 0;

 private:
  void validate_group(const ParamGroup& group) const final { validate(Opts::from_map(group.options)); }
  void step_group(const ParamGroup& group) final {
    const Opts options = Opts::from_map(group.options);
    for_each_grad(group, [&](const Tensor& p, const Tensor& g, ParamState& s) { update(options, p, g, s); });
  }
};

}  // namespace nerve::optim
