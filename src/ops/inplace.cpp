// In-place ops. They bump the storage's version counter (so a stale saved tensor is caught in backward)
// and are not recorded by autograd: on a tensor that requires grad they need grad mode off.
#include <cstring>

#include "backend/cpu/elementwise.h"
#include "ops/op_util.h"

namespace nerve {

namespace {
void check_inplace(const Tensor& self, const char* op, const Tensor* other = nullptr) {
  NERVE_CHECK(self.defined(), op, ": undefined tensor");
  bool rg = self.requires_grad() || (other && other->defined() && other->requires_grad());
  NERVE_CHECK(!(grad_enabled() && rg), op, ": in-place operation on a tensor that requires grad (",
              detail::describe(self), self.is_leaf() ? ", a leaf" : "",
              ") is not recorded by autograd; use the out-of-place op, or wrap updates in a NoGradGuard");
}
Tensor operand(const Tensor& self, const Tensor& o, const char* op) {
  Shape s = broadcast_shapes(self.shape(), o.shape(), op);
  NERVE_CHECK(s == self.shape(), op, ": output with shape ", nerve::to_string(self.shape()),
              " doesn't match the broadcast shape ", nerve::to_string(s), " (other is ", nerve::to_string(o.shape()), ")");
  NoGradGuard g;
  return detail::prepare(o, self.dtype(), self.shape());
}
}  // namespace

Tensor& Tensor::add_(const Tensor& o, double alpha) {
  check_inplace(*this, "add_", &o);
  Tensor y = operand(*this, o, "add_");
  visit_dtype(dtype(), [&](auto tag) {
    using T = decltype(tag);
    T a = static_cast<T>(alpha);
    if (alpha == 1.0)
      cpu::binary_kernel<T, T, T>(*this, *this, y, [](T p, T q) { return static_cast<T>(p + q); });
    else
      cpu::binary_kernel<T, T, T>(*this, *this, y, [a](T p, T q) { return static_cast<T>(p + a * q); });
  });
  bump_version();
  return *this;
}

Tensor& Tensor::mul_(const Tensor& o) {
  check_inplace(*this, "mul_", &o);
  Tensor y = operand(*this, o, "mul_");
  visit_dtype(dtype(), [&](auto tag) {
    using T = decltype(tag);
    cpu::binary_kernel<T, T, T>(*this, *this, y, [](T p, T q) { return static_cast<T>(p * q); });
  });
  bump_version();
  return *this;
}

Tensor& Tensor::mul_(double s) { return mul_(scalar_tensor(s, dtype())); }

Tensor& Tensor::fill_(double v) {
  check_inplace(*this, "fill_");
  visit_dtype(dtype(), [&](auto tag) {
    using T = decltype(tag);
    T x = static_cast<T>(v);
    cpu::unary_kernel<T, T>(*this, *this, [x](T) { return x; });
  });
  bump_version();
  return *this;
}

Tensor& Tensor::zero_() {
  if (is_contiguous()) {
    check_inplace(*this, "zero_");
    std::memset(raw_data(), 0, static_cast<size_t>(numel()) * itemsize(dtype()));
    bump_version();
    return *this;
  }
  return fill_(0.0);
}

Tensor& Tensor::copy_(const Tensor& src) {
  check_inplace(*this, "copy_", &src);
  Shape s = broadcast_shapes(shape(), src.shape(), "copy_");
  NERVE_CHECK(s == shape(), "copy_: source ", nerve::to_string(src.shape()), " does not broadcast to ", nerve::to_string(shape()));
  Tensor y;
  {
    NoGradGuard g;
    y = src.shape() == shape() ? src : nerve::expand(src, shape());
  }
  visit_dtype(dtype(), [&](auto to) {
    using To = decltype(to);
    visit_dtype(y.dtype(), [&](auto from) {
      using Ti = decltype(from);
      cpu::unary_kernel<To, Ti>(*this, y, [](Ti v) { return static_cast<To>(v); });
    });
  });
  bump_version();
  return *this;
}

Tensor& Tensor::masked_fill_(const Tensor& mask, double v) {
  check_inplace(*this, "masked_fill_");
  Tensor filled;
  {
    NoGradGuard g;
    filled = masked_fill(*this, mask, v);
  }
  return copy_(filled);
}

}  // namespace nerve
