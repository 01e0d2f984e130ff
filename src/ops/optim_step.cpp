// The optimizers' fused update steps (nerve/ops/optim_step.h) over the kernels of backend/cpu/optim_kernels.
#include "nerve/ops/optim_step.h"

#include <cmath>

#include "backend/cpu/optim_kernels.h"
#include "nerve/core/profiler.h"
#include "ops/op_util.h"

namespace nerve {

namespace {
// every tensor of an update: defined (or optional and undefined), contiguous, param's shape and dtype, on cpu
void check_state(const char* op, const Tensor& param, const Tensor& t, const char* what, bool optional) {
  if (optional && !t.defined()) return;
  detail::check_arg(t, op, what);
  NERVE_CHECK(t.shape() == param.shape() && t.dtype() == param.dtype(), op, ": ", what, " is ",
              detail::describe(t), ", expected the parameter's ", detail::describe(param));
  NERVE_CHECK(t.is_contiguous(), op, ": ", what, " must be contiguous (", detail::describe(t), ")");
  NERVE_CHECK(!t.is_meta() || param.is_meta(), op, ": ", what, " is a meta tensor but the parameter is not");
}
}  // namespace

void adam_step_(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                const Tensor& max_exp_avg_sq, int64_t step, const AdamStepOptions& o) {
  NERVE_RECORD_FUNCTION("adam_step_");
  const char* op = "adam_step_";
  NERVE_CHECK(param.defined() && is_floating(param.dtype()), op, ": expected a floating parameter");
  check_state(op, param, param, "param", false);
  check_state(op, param, grad, "grad", false);
  check_state(op, param, exp_avg, "exp_avg", false);
  check_state(op, param, exp_avg_sq, "exp_avg_sq", false);
  check_state(op, param, max_exp_avg_sq, "max_exp_avg_sq", true);
  NERVE_CHECK(step >= 1, op, ": step counts from 1, got ", step);
  if (param.is_meta()) return;  // nothing to update
  const double b1 = o.beta1, b2 = o.beta2, wd = o.weight_decay, t = static_cast<double>(step);
  const cpu::AdamScalars s{b1,
                           b2,
                           o.eps,
                           wd,
                           1.0 - o.lr * wd,
                           -(o.lr / (1.0 - std::pow(b1, t))),
                           std::sqrt(1.0 - std::pow(b2, t)),
                           !o.decoupled_weight_decay && wd != 0.0,
                           o.decoupled_weight_decay && wd != 0.0};
  visit_floating(param.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    cpu::adam_step(param.data<T>(), grad.data<T>(), exp_avg.data<T>(), exp_avg_sq.data<T>(),
                   max_exp_avg_sq.defined() ? max_exp_avg_sq.data<T>() : nullptr, param.numel(), s);
  });
  for (const Tensor* u : {&param, &exp_avg, &exp_avg_sq, &max_exp_avg_sq})
    if (u->defined()) u->bump_version();
}

void sgd_step_(const Tensor& param, const Tensor& grad, const Tensor& momentum_buffer, bool first,
               const SgdStepOptions& o) {
  NERVE_RECORD_FUNCTION("sgd_step_");
  const char* op = "sgd_step_";
  NERVE_CHECK(param.defined() && is_floating(param.dtype()), op, ": expected a floating parameter");
  check_state(op, param, param, "param", false);
  check_state(op, param, grad, "grad", false);
  check_state(op, param, momentum_buffer, "momentum_buffer", true);
  NERVE_CHECK(momentum_buffer.defined() == (o.momentum != 0.0), op, ": a momentum buffer goes with a nonzero ",
              "momentum (momentum ", o.momentum, ", buffer ", momentum_buffer.defined() ? "given" : "undefined", ")");
  if (param.is_meta()) return;
  const cpu::SgdScalars s{-o.lr, o.momentum, o.dampening, o.weight_decay, first, o.nesterov};
  visit_floating(param.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    cpu::sgd_step(param.data<T>(), grad.data<T>(), momentum_buffer.defined() ? momentum_buffer.data<T>() : nullptr,
                  param.numel(), s);
  });
  param.bump_version();
  if (momentum_buffer.defined()) momentum_buffer.bump_version();
}

}  // namespace nerve
