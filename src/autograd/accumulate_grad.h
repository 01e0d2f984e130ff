// AccumulateGrad: the node at a leaf; adds the incoming gradient into leaf.grad().
#pragma once
#include "nerve/autograd/node.h"

namespace nerve {

class AccumulateGrad : public Node {
 public:
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf) : leaf_(std::move(leaf)) {}
  const char* name() const override { return "AccumulateGrad"; }
  std::vector<Tensor> apply(std::vector<Tensor>& grads) override;

 private:
  std::shared_ptr<TensorImpl> leaf_;
};

}  // namespace nerve
