// optim::SGD: stochastic gradient descent with momentum, dampening, weight decay and Nesterov momentum
// (torch.optim.SGD's algorithm).
#pragma once
#include "nerve/optim/optimizer.h"

namespace nerve::optim {

struct SGDOptions {
  double lr = 0.01;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
  Options to_map() const;
  static SGDOptions from_map(const Options& m);
};

/// g += wd p; b = momentum b + (1 - dampening) g (b = g at the first step); g = nesterov ? g + momentum b : b;
/// p -= lr g.
///   optim::SGD opt(model->parameters(), {.lr = 0.1, .momentum = 0.9});
class SGD : public TypedOptimizer<SGDOptions> {
 public:
  explicit SGD(std::vector<Tensor> params, const SGDOptions& options = {});
  explicit SGD(std::vector<ParamGroup> groups, const SGDOptions& defaults = {});
  std::string type_name() const override { return "SGD"; }

 protected:
  void validate(const SGDOptions& o) const override;
  void update(const SGDOptions& o, const Tensor& param, const Tensor& grad, ParamState& state) override;
};

}  // namespace nerve::optim
