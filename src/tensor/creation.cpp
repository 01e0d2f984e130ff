// Tensor creation that needs no kernel: empty, ranges, from values, wrapping memory. (Filled tensors, zeros/ones/full
// and eye, are made with fill_ in src/ops/creation.cpp; random tensors in src/ops/random.cpp.)
#include <algorithm>
#include <cmath>
#include <cstring>

#include "nerve/tensor/tensor.h"

namespace nerve {

Tensor empty(const Shape& shape, DType dtype, Device device) {
  int64_t n = 1;
  for (int64_t d : shape) {
    NERVE_CHECK(d >= 0, "empty: negative dimension ", d, " in shape ", to_string(shape));
    NERVE_CHECK(!__builtin_mul_overflow(n, d, &n) && n <= (int64_t{1} << 50), "empty: shape ", to_string(shape),
                " has too many elements");
  }
  auto impl = std::make_shared<TensorImpl>();
  const size_t nbytes = static_cast<size_t>(numel(shape)) * itemsize(dtype);
  impl->storage = device == Device::meta ? Storage::meta(nbytes) : std::make_shared<Storage>(nbytes);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor empty_like(const Tensor& t) {
  detail::check_arg(t, "empty_like", "t");
  return empty(t.shape(), t.dtype(), t.device());
}

Tensor arange(double end, DType dtype) { return arange(0, end, 1, dtype); }

Tensor arange(double start, double end, double step, DType dtype) {
  NERVE_CHECK(std::isfinite(start) && std::isfinite(end) && std::isfinite(step), "arange: start ", start, ", end ",
              end, " and step ", step, " must be finite");
  NERVE_CHECK(step != 0, "arange: step must be nonzero");
  NERVE_CHECK(std::abs((end - start) / step) <= static_cast<double>(int64_t{1} << 50), "arange: start ", start,
              ", end ", end, " and step ", step, " give too many elements");
  NERVE_CHECK((end - start) / step >= 0 || start == end, "arange: start ", start, ", end ", end, " and step ", step,
              " are inconsistent (upper bound and lower bound inconsistent with step sign)");
  int64_t n = static_cast<int64_t>(std::ceil((end - start) / step));
  if (n < 0) n = 0;
  Tensor t = empty({n}, dtype);
  if (t.is_meta()) return t;
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(start + static_cast<double>(i) * step);
  });
  return t;
}

Tensor linspace(double start, double end, int64_t steps, DType dtype) {
  NERVE_CHECK(steps >= 0, "linspace: number of steps must be non-negative, got ", steps);
  Tensor t = empty({steps}, dtype);
  if (t.is_meta()) return t;
  double step = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0.0;
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    // symmetric evaluation as PyTorch does: the second half counts back from `end`
    for (int64_t i = 0; i < steps; ++i)
      p[i] = static_cast<T>(i < steps / 2 ? start + step * static_cast<double>(i)
                                          : end - step * static_cast<double>(steps - 1 - i));
  });
  return t;
}


template <class T>
Tensor from_vector(const std::vector<T>& v, const Shape& shape) {
  NERVE_CHECK(numel(shape) == static_cast<int64_t>(v.size()), "from_vector: ", v.size(),
              " values do not fill shape ", to_string(shape), " (", numel(shape), " elements)");
  Tensor t = empty(shape, dtype_of<T>(), Device::cpu);  // values given: always on cpu
  std::copy(v.begin(), v.end(), t.data<T>());
  return t;
}
template Tensor from_vector<float>(const std::vector<float>&, const Shape&);
template Tensor from_vector<double>(const std::vector<double>&, const Shape&);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&, const Shape&);
template Tensor from_vector<int32_t>(const std::vector<int32_t>&, const Shape&);
template Tensor from_vector<uint8_t>(const std::vector<uint8_t>&, const Shape&);

template <>
Tensor from_vector<bool>(const std::vector<bool>& v, const Shape& shape) {
  NERVE_CHECK(numel(shape) == static_cast<int64_t>(v.size()), "from_vector: ", v.size(),
              " values do not fill shape ", to_string(shape));
  Tensor t = empty(shape, DType::b8, Device::cpu);
  bool* p = t.data<bool>();
  for (size_t i = 0; i < v.size(); ++i) p[i] = v[i];
  return t;
}

Tensor tensor(std::initializer_list<float> v) { return from_vector(std::vector<float>(v)); }

Tensor tensor(std::initializer_list<std::initializer_list<float>> v) {
  std::vector<float> flat;
  int64_t cols = v.size() ? static_cast<int64_t>(v.begin()->size()) : 0;
  for (const auto& row : v) {
    NERVE_CHECK(static_cast<int64_t>(row.size()) == cols, "tensor: ragged nested list (row of ", row.size(),
                " values, expected ", cols, ")");
    flat.insert(flat.end(), row.begin(), row.end());
  }
  return from_vector(flat, {static_cast<int64_t>(v.size()), cols});
}

Tensor from_blob(void* data, const Shape& shape, DType dtype, std::function<void(void*)> deleter) {
  NERVE_CHECK(data != nullptr || numel(shape) == 0, "from_blob: data is a null pointer for shape ", to_string(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(data, static_cast<size_t>(numel(shape)) * itemsize(dtype),
                                            std::move(deleter));
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

}  // namespace nerve
