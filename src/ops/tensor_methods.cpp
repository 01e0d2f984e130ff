// The Tensor members written with ops: element access (item, to_vector: storage dtypes convert first), printing
// (PyTorch's format, summarized when large) and the method forms of the ops (x.sum(), x.softmax(1), ...).
#include <cmath>
#include <cstdio>
#include <sstream>

#include "nerve/autograd/node.h"
#include "nerve/ops/ops.h"
#include "nerve/tensor/tensor.h"

namespace nerve {

template <class T>
T Tensor::item() const {
  check_defined("item");
  NERVE_CHECK(numel() == 1, "item: expected a tensor with one element, got shape ", nerve::to_string(shape()));
  if (is_storage_only(dtype())) return to(DType::f64).item<T>();  // bf16, f16, i8: exact in f64
  return visit_dtype(dtype(), [&](auto tag) {
    using S = decltype(tag);
    return static_cast<T>(*static_cast<const S*>(raw_data()));
  });
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  check_defined("to_vector");
  NERVE_CHECK(!is_meta(), "to_vector: a meta tensor (shape ", nerve::to_string(shape()), ") has no values");
  if (is_storage_only(dtype())) return to(DType::f64).to_vector<T>();
  Tensor c = contiguous();
  std::vector<T> out(static_cast<size_t>(c.numel()));
  visit_dtype(dtype(), [&](auto tag) {
    using S = decltype(tag);
    const S* p = static_cast<const S*>(c.raw_data());
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<T>(p[i]);
  });
  return out;
}

#define NERVE_INSTANTIATE_ACCESS(T) \
  template T Tensor::item<T>() const; \
  template std::vector<T> Tensor::to_vector<T>() const;
NERVE_INSTANTIATE_ACCESS(float)
NERVE_INSTANTIATE_ACCESS(double)
NERVE_INSTANTIATE_ACCESS(int64_t)
NERVE_INSTANTIATE_ACCESS(int32_t)
NERVE_INSTANTIATE_ACCESS(uint8_t)
NERVE_INSTANTIATE_ACCESS(bool)
#undef NERVE_INSTANTIATE_ACCESS

// ------------------------------------------------------------------ printing
namespace {
// PyTorch's print options: more than kThreshold elements are summarized, kEdgeItems at each end of every dim
constexpr int64_t kThreshold = 1000, kEdgeItems = 3;

struct Printer {
  const std::vector<double>& v;  // the values, row-major
  const Shape& shape;
  Shape strides;  // row-major strides of `shape`
  bool floating, summarize;

  void value(std::ostream& os, double x) const {
    if (std::isnan(x)) {  // "nan", as PyTorch (printf would give "-nan" for some)
      os << "nan";
      return;
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, floating ? "%.4f" : "%.0f", x);
    os << buf;
  }
  void dim(std::ostream& os, int64_t d, int64_t base, int indent) const {
    if (shape.empty()) return value(os, v[0]);
    os << '[';
    const int64_t n = shape[d];
    const bool last = d + 1 == static_cast<int64_t>(shape.size());
    const bool cut = summarize && n > 2 * kEdgeItems;
    for (int64_t i = 0; i < n; ++i) {
      if (cut && i == kEdgeItems) {  // the middle, as "..."
        os << (last ? "..., " : "...,\n") << (last ? "" : std::string(static_cast<size_t>(indent + 1), ' '));
        i = n - kEdgeItems;
      }
      if (last) {
        value(os, v[static_cast<size_t>(base + i)]);
        if (i + 1 < n) os << ", ";
      } else {
        dim(os, d + 1, base + i * strides[d], indent + 1);
        if (i + 1 < n) os << ",\n" << std::string(static_cast<size_t>(indent + 1), ' ');
      }
    }
    os << ']';
  }
};
}  // namespace

std::string Tensor::to_string() const {
  if (!defined()) return "tensor(undefined)";
  std::ostringstream os;
  os << "tensor(";
  if (is_meta()) {  // as PyTorch: no values to show
    os << "..., device='meta', size=" << nerve::to_string(shape());
    if (dtype() != DType::f32 && dtype() != DType::i64) os << ", dtype=" << dtype_name(dtype());
    return os.str() + ")";
  }
  std::vector<double> v = dtype() == DType::b8 ? std::vector<double>() : to_vector<double>();
  if (dtype() == DType::b8)
    for (bool b : to_vector<bool>()) v.push_back(b);
  const Printer p{v, shape(), contiguous_strides(shape()), is_floating(dtype()),
                  numel() > kThreshold};
  if (dtype() == DType::b8) {
    std::ostringstream inner;
    p.dim(inner, 0, 0, 7);
    std::string s = inner.str();
    for (size_t i = 0; i < s.size(); ++i)
      if (s[i] == '1' || s[i] == '0') os << (s[i] == '1' ? "True" : "False"); else os << s[i];
  } else {
    p.dim(os, 0, 0, 7);
  }
  if (numel() == 0) os << ", size=" << nerve::to_string(shape());
  if (dtype() != DType::f32 && dtype() != DType::i64) os << ", dtype=" << dtype_name(dtype());
  if (requires_grad() && grad_fn()) os << ", grad_fn=<" << grad_fn()->name() << ">";
  else if (requires_grad()) os << ", requires_grad=True";
  os << ')';
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.to_string(); }

// ------------------------------------------------------------------ method forms
Tensor Tensor::reshape(const Shape& s) const { return nerve::reshape(*this, s); }
Tensor Tensor::view(const Shape& s) const { return nerve::view(*this, s); }
Tensor Tensor::permute(const Shape& d) const { return nerve::permute(*this, d); }
Tensor Tensor::transpose(int64_t a, int64_t b) const { return nerve::transpose(*this, a, b); }
Tensor Tensor::t() const {
  check_defined("t");
  NERVE_CHECK(dim() <= 2, "t: expects a tensor with <= 2 dims, got ", nerve::to_string(shape()));
  return dim() < 2 ? *this : nerve::transpose(*this, 0, 1);
}
Tensor Tensor::narrow(int64_t d, int64_t s, int64_t l) const { return nerve::narrow(*this, d, s, l); }
Tensor Tensor::select(int64_t d, int64_t i) const { return nerve::select(*this, d, i); }
Tensor Tensor::expand(const Shape& s) const { return nerve::expand(*this, s); }
Tensor Tensor::squeeze(int64_t d) const { return nerve::squeeze(*this, d); }
Tensor Tensor::unsqueeze(int64_t d) const { return nerve::unsqueeze(*this, d); }
Tensor Tensor::flatten(int64_t s, int64_t e) const { return nerve::flatten(*this, s, e); }
Tensor Tensor::contiguous() const { return nerve::contiguous(*this); }
Tensor Tensor::clone() const { return nerve::clone(*this); }
Tensor Tensor::to(DType d) const { return nerve::to_dtype(*this, d); }

Tensor Tensor::to(Device d) const {
  if (device() == d) return *this;
  NERVE_CHECK(d == Device::meta, "to(cpu): a meta tensor (shape ", nerve::to_string(shape()),
              ") has no values to copy; make the tensor on cpu instead");
  Tensor out = empty(shape(), dtype(), d);
  if (requires_grad()) out.requires_grad_();
  return out;
}
Tensor Tensor::sum(const Shape& d, bool k) const { return nerve::sum(*this, d, k); }
Tensor Tensor::mean(const Shape& d, bool k) const { return nerve::mean(*this, d, k); }
Tensor Tensor::var(const Shape& d, int64_t c, bool k) const { return nerve::var(*this, d, c, k); }
Tensor Tensor::std(const Shape& d, int64_t c, bool k) const { return nerve::std(*this, d, c, k); }
Tensor Tensor::norm(double p, const Shape& d, bool k) const { return nerve::norm(*this, p, d, k); }
Tensor Tensor::max() const { return nerve::max(*this); }
Tensor Tensor::min() const { return nerve::min(*this); }
std::pair<Tensor, Tensor> Tensor::max(int64_t d, bool k) const { return nerve::max(*this, d, k); }
std::pair<Tensor, Tensor> Tensor::min(int64_t d, bool k) const { return nerve::min(*this, d, k); }
Tensor Tensor::argmax(int64_t d, bool k) const { return nerve::argmax(*this, d, k); }
Tensor Tensor::argmin(int64_t d, bool k) const { return nerve::argmin(*this, d, k); }
std::pair<Tensor, Tensor> Tensor::topk(int64_t k, int64_t d, bool l, bool s) const {
  return nerve::topk(*this, k, d, l, s);
}
Tensor Tensor::cumsum(int64_t d) const { return nerve::cumsum(*this, d); }
Tensor Tensor::softmax(int64_t d) const { return nerve::softmax(*this, d); }
Tensor Tensor::log_softmax(int64_t d) const { return nerve::log_softmax(*this, d); }
Tensor Tensor::matmul(const Tensor& o) const { return nerve::matmul(*this, o); }
Tensor Tensor::exp() const { return nerve::exp(*this); }
Tensor Tensor::log() const { return nerve::log(*this); }
Tensor Tensor::relu() const { return nerve::relu(*this); }
Tensor Tensor::sigmoid() const { return nerve::sigmoid(*this); }
Tensor Tensor::tanh() const { return nerve::tanh(*this); }
Tensor Tensor::abs() const { return nerve::abs(*this); }
Tensor Tensor::sqrt() const { return nerve::sqrt(*this); }
Tensor Tensor::pow(double e) const { return nerve::pow(*this, e); }
Tensor Tensor::clamp(std::optional<double> lo, std::optional<double> hi) const { return nerve::clamp(*this, lo, hi); }
Tensor Tensor::tril(int64_t d) const { return nerve::tril(*this, d); }
Tensor Tensor::triu(int64_t d) const { return nerve::triu(*this, d); }
Tensor Tensor::masked_select(const Tensor& m) const { return nerve::masked_select(*this, m); }

}  // namespace nerve
