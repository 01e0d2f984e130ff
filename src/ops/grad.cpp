// zero_grad over a list of leaves (the one implementation behind Module::zero_grad and Optimizer::zero_grad),
// declared in nerve/autograd/grad.h and written here with zero_ (an op).
#include "nerve/autograd/grad.h"

#include "nerve/autograd/grad_mode.h"

namespace nerve {

void zero_grad(std::span<const Tensor> params, bool set_to_none) {
  NoGradGuard no_grad;
  for (Tensor p : params) {  // a handle: setting the copy's grad sets the parameter's
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (set_to_none)
      p.set_grad(Tensor());
    else
      g.zero_();
  }
}

}  // namespace nerve
