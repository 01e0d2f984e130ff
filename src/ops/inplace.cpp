// In-place ops. They bump the storage's version counter (so a stale saved tensor is caught in backward)
// and are not recorded by autograd: on a tensor that requires grad they need grad mode off.
#include <cstring>

#include "backend/cpu/convert.h"
#include "backend/cpu/elementwise.h"
#include "ops/op_util.h"
#include "nerve/core/profiler.h"

namespace nerve {

namespace {
void check_inplace(const Tensor& self, const char* op, const Tensor* other = nullptr) {
  self.check_defined(op);
  if (other && !other->defined()) [[unlikely]]
    detail::throw_undefined_arg(op, "other");
  NERVE_CHECK(!other || self.is_meta() || !other->is_meta(), op, ": other is a meta tensor (",
              detail::describe(*other), "), which has no values to write into a cpu tensor");
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
  NERVE_RECORD_FUNCTION("add_");
  check_inplace(*this, "add_", &o);
  Tensor y = operand(*this, o, "add_");
  if (is_meta()) return *this;  // in place on meta: nothing to write
  visit_dtype(dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, float>) {  // x += alpha y through the vectorized rows, any layout
      detail::binary_rows_f32(cpu::VecBinary::add, *this, *this, y, static_cast<float>(alpha));
    } else {
      T a = static_cast<T>(alpha);
      if (alpha == 1.0)
        cpu::binary_kernel<T, T, T>(*this, *this, y, [](T p, T q) { return static_cast<T>(p + q); });
      else
        cpu::binary_kernel<T, T, T>(*this, *this, y, [a](T p, T q) { return static_cast<T>(p + a * q); });
    }
  });
  bump_version();
  return *this;
}

Tensor& Tensor::mul_(const Tensor& o) {
  NERVE_RECORD_FUNCTION("mul_");
  check_inplace(*this, "mul_", &o);
  Tensor y = operand(*this, o, "mul_");
  if (is_meta()) return *this;  // in place on meta: nothing to write
  visit_dtype(dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, float>)
      detail::binary_rows_f32(cpu::VecBinary::mul, *this, *this, y, 1.f);
    else
      cpu::binary_kernel<T, T, T>(*this, *this, y, [](T p, T q) { return static_cast<T>(p * q); });
  });
  bump_version();
  return *this;
}

Tensor& Tensor::mul_(double s) {
  check_defined("mul_");
  return mul_(scalar_tensor(s, dtype(), device()));
}

Tensor& Tensor::fill_(double v) {
  NERVE_RECORD_FUNCTION("fill_");
  check_inplace(*this, "fill_");
  if (is_meta()) return *this;
  if (is_storage_only(dtype())) {  // the value converted once, as to() would, then copied
    cpu::convert(*this, nerve::expand(scalar_tensor(v, DType::f64, Device::cpu), shape()));
    bump_version();
    return *this;
  }
  visit_dtype(dtype(), [&](auto tag) {
    using T = decltype(tag);
    T x = static_cast<T>(v);
    if (is_contiguous()) {  // writes only (the generic loop reads the old values too), by the value's bits
      T* p = data<T>();
      parallel_for(numel(), 4 * kParallelGrain, [&](int64_t b, int64_t e) {
        if constexpr (sizeof(T) == 4) {
          uint32_t bits;
          std::memcpy(&bits, &x, 4);
          cpu::fill_bits32(reinterpret_cast<uint32_t*>(p + b), e - b, bits);
        } else if constexpr (sizeof(T) == 8) {
          uint64_t bits;
          std::memcpy(&bits, &x, 8);
          cpu::fill_bits64(reinterpret_cast<uint64_t*>(p + b), e - b, bits);
        } else {
          std::memset(p + b, static_cast<unsigned char>(x), static_cast<size_t>(e - b));  // 1-byte types
        }
      });
    } else {
      cpu::unary_kernel<T, T>(*this, *this, [x](T) { return x; });
    }
  });
  bump_version();
  return *this;
}

Tensor& Tensor::zero_() {
  NERVE_RECORD_FUNCTION("zero_");
  check_defined("zero_");
  if (is_contiguous() && !is_meta()) {
    check_inplace(*this, "zero_");
    char* p = static_cast<char*>(raw_data());
    const int64_t isz = itemsize(dtype());
    parallel_for(numel(), 4 * kParallelGrain, [&](int64_t b, int64_t e) {
      std::memset(p + b * isz, 0, static_cast<size_t>(e - b) * isz);
    });
    bump_version();
    return *this;
  }
  return fill_(0.0);
}

Tensor& Tensor::copy_(const Tensor& src) {
  NERVE_RECORD_FUNCTION("copy_");
  check_inplace(*this, "copy_", &src);
  Shape s = broadcast_shapes(shape(), src.shape(), "copy_");
  NERVE_CHECK(s == shape(), "copy_: source ", nerve::to_string(src.shape()), " does not broadcast to ", nerve::to_string(shape()));
  Tensor y;
  {
    NoGradGuard g;
    y = src.shape() == shape() ? src : nerve::expand(src, shape());
  }
  cpu::convert(*this, y);
  bump_version();
  return *this;
}

Tensor& Tensor::masked_fill_(const Tensor& mask, double v) {
  NERVE_RECORD_FUNCTION("masked_fill_");
  check_inplace(*this, "masked_fill_", &mask);
  Tensor filled;
  {
    NoGradGuard g;
    filled = masked_fill(*this, mask, v);
  }
  return copy_(filled);
}

}  // namespace nerve
