// Elementwise kernels over strided operands of one shape: out = f(x) and out = f(a, b).
// Kernels assume checked inputs (same shape; out freshly allocated or a valid destination).
#pragma once
#include <type_traits>

#include "backend/cpu/loops.h"
#include "nerve/tensor/tensor.h"

namespace nerve::cpu {

/// Only kernels producing floats get the vectorized row variants; the rest keep one plain loop (smaller code).
template <class To, class Ti>
inline constexpr bool kVectorize = std::is_floating_point_v<To> && !std::is_same_v<Ti, bool>;

template <class To, class Ti, class F>
void unary_kernel(const Tensor& out, const Tensor& x, const F& f) {
  if (out.is_meta()) return;  // the meta device: shapes only, no kernel runs
  for_each_row<2>(out.shape(), {&out.strides(), &x.strides()},
                  {static_cast<char*>(out.raw_data()), static_cast<char*>(x.raw_data())},
                  {int64_t(sizeof(To)), int64_t(sizeof(Ti))}, [&](BytePtrs2 p, int64_t n, std::array<int64_t, 2> st) {
                    To* o = reinterpret_cast<To*>(p[0]);
                    const Ti* a = reinterpret_cast<const Ti*>(p[1]);
                    if (st[0] == 1 && st[1] == 1) {
                      if constexpr (kVectorize<To, Ti>) {
#pragma omp simd
                        for (int64_t i = 0; i < n; ++i) o[i] = f(a[i]);
                      } else {
                        for (int64_t i = 0; i < n; ++i) o[i] = f(a[i]);
                      }
                    } else {
                      for (int64_t i = 0; i < n; ++i) o[i * st[0]] = f(a[i * st[1]]);
                    }
                  });
}

template <class To, class Ta, class Tb, class F>
void binary_kernel(const Tensor& out, const Tensor& a, const Tensor& b, const F& f) {
  if (out.is_meta()) return;
  for_each_row<3>(out.shape(), {&out.strides(), &a.strides(), &b.strides()},
                  {static_cast<char*>(out.raw_data()), static_cast<char*>(a.raw_data()),
                   static_cast<char*>(b.raw_data())},
                  {int64_t(sizeof(To)), int64_t(sizeof(Ta)), int64_t(sizeof(Tb))},
                  [&](BytePtrs3 p, int64_t n, std::array<int64_t, 3> st) {
                    To* o = reinterpret_cast<To*>(p[0]);
                    const Ta* x = reinterpret_cast<const Ta*>(p[1]);
                    const Tb* y = reinterpret_cast<const Tb*>(p[2]);
                    if constexpr (!kVectorize<To, Ta>) {  // integer and bool ops: plain loops, less code
                      for (int64_t i = 0; i < n; ++i) o[i * st[0]] = f(x[i * st[1]], y[i * st[2]]);
                    } else if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
#pragma omp simd
                      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
                    } else if (st[0] == 1 && st[1] == 1 && st[2] == 0) {
                      const Tb yv = y[0];
#pragma omp simd
                      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], yv);
                    } else {
                      for (int64_t i = 0; i < n; ++i) o[i * st[0]] = f(x[i * st[1]], y[i * st[2]]);
                    }
                  });
}

}  // namespace nerve::cpu
