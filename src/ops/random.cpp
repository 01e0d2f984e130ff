// Random tensors from the seeded global generator: uniform, rand, randn, randint. The f32 paths convert blocks of
// random words with the vector kernels of backend/cpu/random_kernels; other dtypes draw one value at a time.
#include <algorithm>
#include <cmath>

#include "backend/cpu/random_kernels.h"
#include "nerve/core/rng.h"
#include "nerve/ops/random.h"

namespace nerve {

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
  if (t.is_meta()) return t;  // nothing drawn: the generator moves only for real tensors
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
  if (t.is_meta()) return t;
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
  if (t.is_meta()) return t;
  uint64_t range = static_cast<uint64_t>(high - low);
  visit_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    Generator& g = generator();
    for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = static_cast<T>(low + static_cast<int64_t>(g() % range));
  });
  return t;
}

}  // namespace nerve
