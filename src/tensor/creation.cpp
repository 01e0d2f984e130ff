// Tensor creation: empty/zeros/ones/full, ranges, eye, random tensors from the seeded generator, wrapping memory.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu/random_kernels.h"
#include "nerve/core/rng.h"
#include "nerve/tensor/tensor.h"

namespace nerve {

Tensor empty(const Shape& shape, DType dtype) {
  int64_t n = 1;
  for (int64_t d : shape) {
    NERVE_CHECK(d >= 0, "empty: negative dimension ", d, " in shape ", to_string(shape));
    NERVE_CHECK(!__builtin_mul_overflow(n, d, &n) && n <= (int64_t{1} << 50), "empty: shape ", to_string(shape),
                " has too many elements");
  }
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(numel(shape)) * itemsize(dtype));
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

// Through fill_ / zero_: full-width stores (a scalar loop at -O2 took ~1 us for 4,096 floats), split over threads
// when large.
Tensor zeros(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  t.zero_();
  return t;
}

Tensor full(const Shape& shape, double value, DType dtype) {
  Tensor t = empty(shape, dtype);
  t.fill_(value);
  return t;
}

Tensor ones(const Shape& shape, DType dtype) { return full(shape, 1.0, dtype); }
Tensor zeros_like(const Tensor& t) {
  detail::check_arg(t, "zeros_like", "t");
  return zeros(t.shape(), t.dtype());
}
Tensor ones_like(const Tensor& t) {
  detail::check_arg(t, "ones_like", "t");
  return ones(t.shape(), t.dtype());
}
Tensor empty_like(const Tensor& t) {
  detail::check_arg(t, "empty_like", "t");
  return empty(t.shape(), t.dtype());
}
Tensor scalar_tensor(double value, DType dtype) { return full({}, value, dtype); }

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

Tensor eye(int64_t n, DType dtype) {
  Tensor t = zeros({n, n}, dtype);
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i * n + i] = T(1);
  });
  return t;
}

namespace {
// uniform double in [0, 1) from 53 random bits: the same numbers on every platform
double next_uniform(Generator& g) { return static_cast<double>(g() >> 11) * 0x1.0p-53; }

// f(bits, count, offset) over n random words drawn in blocks (the generator's vector path)
template <class F>
void in_blocks(int64_t n, const F& f) {
  constexpr int64_t kBlock = 1024;
  uint64_t bits[kBlock];
  Generator& g = generator();
  for (int64_t i = 0; i < n; i += kBlock) {
    const int64_t m = std::min(kBlock, n - i);
    g.fill(bits, m);
    f(bits, m, i);
  }
}
}  // namespace

Tensor uniform(const Shape& shape, double low, double high, DType dtype) {
  NERVE_CHECK(std::isfinite(low) && std::isfinite(high) && low <= high,
              "uniform: expected finite low <= high, got low=", low, ", high=", high);
  Tensor t = empty(shape, dtype);
  const int64_t n = t.numel();
  if (dtype == DType::f32) {  // the same numbers as the loop below, drawn and converted with vector code
    float* p = t.data<float>();
    in_blocks(n, [&](const uint64_t* bits, int64_t m, int64_t i) { cpu::uniform_from_bits_f32(bits, p + i, m, low, high); });
    return t;
  }
  visit_floating(dtype, "uniform", [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same_v<T, float>) {
      T* p = t.data<T>();
      Generator& g = generator();
      const T top = cpu::uniform_top<T>(low, high);
      for (int64_t i = 0; i < n; ++i) p[i] = std::min(static_cast<T>(low + (high - low) * next_uniform(g)), top);
    }
  });
  return t;
}

Tensor rand(const Shape& shape, DType dtype) { return uniform(shape, 0.0, 1.0, dtype); }

Tensor randn(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  const int64_t n = t.numel();
  if (dtype == DType::f32) {  // Box-Muller in float, vectorized: two normals per random word, as PyTorch's float path
    float* p = t.data<float>();
    in_blocks((n + 1) / 2, [&](const uint64_t* bits, int64_t m, int64_t i) {
      // block of m words -> 2m values at p + 2i: the cosines first, then the sines (the last block of an odd n
      // has one sine fewer: it goes to a scratch slot)
      float* c = p + 2 * i;
      const int64_t full = std::min(m, n - 2 * i - m);  // m, or m - 1 in the last block of an odd n
      cpu::normal_pairs_from_bits_f32(bits, c, c + m, full);
      if (full < m) {
        float unused_sin;
        cpu::normal_pair_from_bits(bits[m - 1], c[m - 1], unused_sin);
      }
    });
    return t;
  }
  visit_floating(dtype, "randn", [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same_v<T, float>) {
      T* p = t.data<T>();
      Generator& g = generator();
      for (int64_t i = 0; i < n; i += 2) {  // Box-Muller in double, two normals per pair of uniforms
        double u1 = 1.0 - next_uniform(g), u2 = next_uniform(g);
        double r = std::sqrt(-2.0 * std::log(u1)), th = 2.0 * M_PI * u2;
        p[i] = static_cast<T>(r * std::cos(th));
        if (i + 1 < n) p[i + 1] = static_cast<T>(r * std::sin(th));
      }
    }
  });
  return t;
}

Tensor randint(int64_t low, int64_t high, const Shape& shape, DType dtype) {
  NERVE_CHECK(low < high, "randint: expected low < high, got low=", low, ", high=", high);
  Tensor t = empty(shape, dtype);
  uint64_t range = static_cast<uint64_t>(high - low);
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    Generator& g = generator();
    for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = static_cast<T>(low + static_cast<int64_t>(g() % range));
  });
  return t;
}

template <class T>
Tensor from_vector(const std::vector<T>& v, const Shape& shape) {
  NERVE_CHECK(numel(shape) == static_cast<int64_t>(v.size()), "from_vector: ", v.size(),
              " values do not fill shape ", to_string(shape), " (", numel(shape), " elements)");
  Tensor t = empty(shape, dtype_of<T>());
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
  Tensor t = empty(shape, DType::b8);
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
