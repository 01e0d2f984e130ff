// Gradient clipping over raw gradient buffers (torch.nn.utils.clip_grad_norm_ / clip_grad_value_).
#include "nerve/optim/clip_grad.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "nerve/autograd/grad_mode.h"

namespace nerve::optim {

namespace {
template <class F>
void for_each_grad(const std::vector<Tensor>& params, const F& f) {
  for (const Tensor& p : params) {
    if (!p.defined()) continue;
    Tensor g = p.grad();
    if (!g.defined()) continue;
    NERVE_CHECK(g.is_contiguous(), "clip_grad: gradient ", to_string(g.shape()), " is not contiguous");
    visit_floating(g.dtype(), "clip_grad", [&](auto tag) {
      using T = decltype(tag);
      f(g.data<T>(), g.numel());
    });
    g.bump_version();
  }
}
}  // namespace

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type, bool error_if_nonfinite) {
  NERVE_CHECK(norm_type > 0, "clip_grad_norm_: norm_type must be positive (or infinity), got ", norm_type);
  const bool inf_norm = std::isinf(norm_type);
  double acc = 0.0;  // max |g| for the inf norm, else sum |g|^p
  for_each_grad(params, [&](auto* g, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
      double a = std::abs(static_cast<double>(g[i]));
      if (inf_norm)
        acc = std::max(acc, a);
      else
        acc += norm_type == 2.0 ? a * a : std::pow(a, norm_type);
    }
  });
  double total = inf_norm ? acc : norm_type == 2.0 ? std::sqrt(acc) : std::pow(acc, 1.0 / norm_type);
  NERVE_CHECK(!error_if_nonfinite || std::isfinite(total), "clip_grad_norm_: the total norm of order ", norm_type,
              " for gradients from `parameters` is non-finite, so it cannot be clipped");
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1.0)
    for_each_grad(params, [&](auto* g, int64_t n) {
      using T = std::remove_reference_t<decltype(*g)>;
      const T c = static_cast<T>(coef);
      for (int64_t i = 0; i < n; ++i) g[i] *= c;
    });
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  for_each_grad(params, [&](auto* g, int64_t n) {
    using T = std::remove_reference_t<decltype(*g)>;
    const T hi = static_cast<T>(clip_value), lo = -hi;
    for (int64_t i = 0; i < n; ++i) g[i] = std::clamp(g[i], lo, hi);
  });
}

}  // namespace nerve::optim
