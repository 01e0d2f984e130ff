// Ordering along one dim: topk. The indices come from the order torch's CPU kernel computes (partial sort for
// small k, else nth_element and a sort of the first k - 1), the values are gathered at them, so the gradient is
// gather's: the upstream gradient scattered back to the chosen positions.
#include <algorithm>
#include <cmath>

#include "nerve/core/profiler.h"
#include "ops/op_util.h"

namespace nerve {

namespace {

// idx (rows, k): the positions of the k largest (smallest) values of each row of p (rows, n). NaN ranks above
// every number when largest, below when not (torch's order, for NumPy compatibility).
void topk_rows(const double* p, int64_t rows, int64_t n, int64_t k, bool largest, bool sorted, int64_t* idx) {
  using Elem = std::pair<double, int64_t>;
  auto before = [largest](const Elem& a, const Elem& b) {
    return largest ? (std::isnan(a.first) && !std::isnan(b.first)) || a.first > b.first
                   : (!std::isnan(a.first) && std::isnan(b.first)) || a.first < b.first;
  };
  std::vector<Elem> q(static_cast<size_t>(n));
  for (int64_t r = 0; r < rows && k > 0; ++r) {
    for (int64_t j = 0; j < n; ++j) q[j] = {p[r * n + j], j};
    if (k * 64 <= n) {
      std::partial_sort(q.begin(), q.begin() + k, q.end(), before);
    } else {
      std::nth_element(q.begin(), q.begin() + k - 1, q.end(), before);
      if (sorted) std::sort(q.begin(), q.begin() + k - 1, before);
    }
    for (int64_t j = 0; j < k; ++j) idx[r * k + j] = q[j].second;
  }
}

}  // namespace

std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t dim, bool largest, bool sorted) {
  NERVE_RECORD_FUNCTION("topk");
  detail::check_arg(x, "topk", "x");
  dim = wrap_dim(dim, x.dim(), "topk");
  const int64_t n = x.dim() ? x.shape()[dim] : 1;
  NERVE_CHECK(k >= 0 && k <= n, "topk: k = ", k, " is out of range for dim ", dim, " of size ", n, " (input ",
              detail::describe(x), ")");
  if (x.dim() == 0) return {clone(x), zeros({}, DType::i64, x.device())};  // torch: the element itself, for k = 0 as for 1
  // rows along dim, as f64: the same order for f32 values, exact for integers up to 2^53
  Tensor rows = x.detach().transpose(dim, -1).to(DType::f64).contiguous();
  Shape is = rows.shape();
  is.back() = k;
  Tensor idx = empty(is, DType::i64, x.device());
  if (!idx.is_meta()) topk_rows(rows.data<double>(), numel(is) / std::max<int64_t>(k, 1), n, k, largest, sorted, idx.data<int64_t>());
  idx = idx.transpose(dim, -1).contiguous();
  return {gather(x, dim, idx), idx};
}

}  // namespace nerve
