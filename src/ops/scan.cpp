// Cumulative ops along one dim: cumsum, whose backward is the cumulative sum of the gradient taken in reverse.
#include "nerve/core/profiler.h"
#include "ops/op_util.h"

namespace nerve {

namespace {

// out[o, i, k] = sum over j <= i (j >= i when reverse) of x[o, j, k], for contiguous x viewed as (outer, n, inner);
// each line is summed in Acc (double for f32, as torch's CPU kernel)
template <class T, class Acc>
void cumsum_kernel(const T* x, T* out, int64_t outer, int64_t n, int64_t inner, bool reverse) {
  std::vector<Acc> acc(static_cast<size_t>(inner));
  for (int64_t o = 0; o < outer; ++o) {
    std::fill(acc.begin(), acc.end(), Acc(0));
    for (int64_t t = 0; t < n; ++t) {
      const int64_t off = (o * n + (reverse ? n - 1 - t : t)) * inner;
      for (int64_t k = 0; k < inner; ++k) {
        acc[k] += static_cast<Acc>(x[off + k]);
        out[off + k] = static_cast<T>(acc[k]);
      }
    }
  }
}

Tensor cumsum_impl(const Tensor& x, int64_t dim, bool reverse);

class CumsumBackward : public Node {
 public:
  CumsumBackward(int64_t dim, bool reverse) : dim_(dim), reverse_(reverse) {}
  const char* name() const override { return "CumsumBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override { return {cumsum_impl(g[0], dim_, !reverse_)}; }

 private:
  int64_t dim_;
  bool reverse_;
};

Tensor cumsum_impl(const Tensor& x_in, int64_t dim, bool reverse) {
  // integers and bools are summed as i64 (torch's result type)
  Tensor x = (is_floating(x_in.dtype()) || x_in.dtype() == DType::i64 ? x_in : x_in.to(DType::i64)).contiguous();
  dim = wrap_dim(dim, x.dim(), "cumsum");
  int64_t outer = 1, inner = 1, n = x.dim() ? x.shape()[dim] : 1;
  for (int64_t d = 0; d < dim; ++d) outer *= x.shape()[d];
  for (int64_t d = dim + 1; d < x.dim(); ++d) inner *= x.shape()[d];
  Tensor out = empty(x.shape(), x.dtype(), x.device());
  if (out.is_meta())
    ;  // shapes only
  else if (x.dtype() == DType::f32)
    cumsum_kernel<float, double>(x.data<float>(), out.data<float>(), outer, n, inner, reverse);
  else if (x.dtype() == DType::f64)
    cumsum_kernel<double, double>(x.data<double>(), out.data<double>(), outer, n, inner, reverse);
  else
    cumsum_kernel<int64_t, int64_t>(x.data<int64_t>(), out.data<int64_t>(), outer, n, inner, reverse);
  detail::record<CumsumBackward>({&x}, out, dim, reverse);
  return out;
}

}  // namespace

Tensor cumsum(const Tensor& x, int64_t dim) {
  NERVE_RECORD_FUNCTION("cumsum");
  detail::check_arg(x, "cumsum", "x");
  return cumsum_impl(x, dim, false);
}

}  // namespace nerve
