// optim::RMSprop (Hinton's lecture 6e; centered form of Graves 2013), following torch.optim.RMSprop.
#pragma once
#include "nerve/optim/optimizer.h"

namespace nerve::optim {

struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;
  Options to_map() const;
  static RMSpropOptions from_map(const Options& m);
};

/// g += wd p; v = alpha v + (1 - alpha) g^2; avg = sqrt(v - gbar^2 if centered) + eps;
/// momentum: b = momentum b + g / avg, p -= lr b; else p -= lr g / avg.
///   optim::RMSprop opt(model->parameters(), {.lr = 1e-3});
class RMSprop : public TypedOptimizer<RMSpropOptions> {
 public:
  explicit RMSprop(std::vector<Tensor> params, const RMSpropOptions& options = {});
  explicit RMSprop(std::vector<ParamGroup> groups, const RMSpropOptions& defaults = {});
  std::string type_name() const override { return "RMSprop"; }

 protected:
  void validate(const RMSpropOptions& o) const override;
  void update(const RMSpropOptions& o, const Tensor& param, const Tensor& grad, ParamState& state) override;
};

}  // namespace nerve::optim
