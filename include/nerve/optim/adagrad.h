// optim::Adagrad (Duchi et al. 2011), following torch.optim.Adagrad.
#pragma once
#include "nerve/optim/optimizer.h"

namespace nerve::optim {

struct AdagradOptions {
  double lr = 1e-2;
  double lr_decay = 0.0;
  double weight_decay = 0.0;
  double initial_accumulator_value = 0.0;
  double eps = 1e-10;
  Options to_map() const;
  static AdagradOptions from_map(const Options& m);
};

/// g += wd p; clr = lr / (1 + (t - 1) lr_decay); s += g^2; p -= clr g / (sqrt(s) + eps).
///   optim::Adagrad opt(model->parameters(), {.lr = 0.1});
class Adagrad : public TypedOptimizer<AdagradOptions> {
 public:
  explicit Adagrad(std::vector<Tensor> params, const AdagradOptions& options = {});
  explicit Adagrad(std::vector<ParamGroup> groups, const AdagradOptions& defaults = {});
  std::string type_name() const override { return "Adagrad"; }

 protected:
  void validate(const AdagradOptions& o) const override;
  void update(const AdagradOptions& o, const Tensor& param, const Tensor& grad, ParamState& state) override;
};

}  // namespace nerve::optim
