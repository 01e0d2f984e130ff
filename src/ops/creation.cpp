// Filled tensors: zeros, ones, full, scalar_tensor, the *_like forms and eye, made with fill_ / zero_ (ops), so the
// tensor layer below needs no kernel.
#include "nerve/tensor/tensor.h"

namespace nerve {

// Through fill_ / zero_: full-width stores (a scalar loop at -O2 took ~1 us for 4,096 floats), split over threads
// when large.
Tensor zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.zero_();
  return t;
}

Tensor full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_(value);
  return t;
}

Tensor ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }
Tensor zeros_like(const Tensor& t) {
  detail::check_arg(t, "zeros_like", "t");
  return zeros(t.shape(), t.dtype(), t.device());
}
Tensor ones_like(const Tensor& t) {
  detail::check_arg(t, "ones_like", "t");
  return ones(t.shape(), t.dtype(), t.device());
}
Tensor scalar_tensor(double value, DType dtype, Device device) { return full({}, value, dtype, device); }

Tensor eye(int64_t n, DType dtype) {
  Tensor t = zeros({n, n}, dtype);
  if (t.is_meta()) return t;
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i * n + i] = T(1);
  });
  return t;
}

}  // namespace nerve
