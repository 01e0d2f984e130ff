// optim::Adam (Kingma & Ba 2015, with optional AMSGrad) and optim::AdamW (decoupled weight decay, Loshchilov &
// Hutter 2019), following torch.optim.Adam/AdamW's algorithms.
#pragma once
#include "nerve/optim/optimizer.h"

namespace nerve::optim {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool amsgrad = false;
  Options to_map() const;
  static AdamOptions from_map(const Options& m);
};

/// AdamOptions with AdamW's default weight decay.
struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
  Options to_map() const;
  AdamOptions adam() const { return {lr, beta1, beta2, eps, weight_decay, amsgrad}; }
};

/// g += wd p; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) +
/// eps) (v replaced by its running max with amsgrad).
///   optim::Adam opt(model->parameters(), {.lr = 1e-3});
class Adam : public TypedOptimizer<AdamOptions> {
 public:
  explicit Adam(std::vector<Tensor> params, const AdamOptions& options = {});
  explicit Adam(std::vector<ParamGroup> groups, const AdamOptions& defaults = {});
  std::string type_name() const override { return "Adam"; }

 protected:
  Adam(std::vector<ParamGroup> groups, const AdamOptions& defaults, bool decoupled);
  void validate(const AdamOptions& o) const override;
  void update(const AdamOptions& o, const Tensor& param, const Tensor& grad, ParamState& state) override;

 private:
  bool decoupled_ = false;  // AdamW: p *= 1 - lr wd instead of g += wd p
};

/// Adam with decoupled weight decay: p *= 1 - lr wd, then the Adam step on the raw gradient.
///   optim::AdamW opt(model->parameters(), {.lr = 1e-3, .weight_decay = 1e-2});
class AdamW : public Adam {
 public:
  explicit AdamW(std::vector<Tensor> params, const AdamWOptions& options = {});
  explicit AdamW(std::vector<ParamGroup> groups, const AdamWOptions& defaults = {});
  std::string type_name() const override { return "AdamW"; }
};

}  // namespace nerve::optim
