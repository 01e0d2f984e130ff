// Elementwise loop machinery: walks K same-shaped strided operands, handing contiguous-ish rows to a kernel.
// Fast path: all operands contiguous (one long row, split across threads). Otherwise dims are coalesced and
// the innermost dim becomes the row; rows with unit or zero inner strides get compile-time strides so the
// compiler vectorizes them.
#pragma once
#include <array>
#include <cstdint>

#include "nerve/core/parallel.h"
#include "nerve/core/shape.h"

namespace nerve::cpu {

template <size_t K>
struct LoopDims {
  Shape shape;                     // coalesced shape
  std::array<Shape, K> strides;    // per operand, in elements
};

/// Merges adjacent dims that are contiguous with each other for every operand.
template <size_t K>
LoopDims<K> coalesce(const Shape& shape, const std::array<const Shape*, K>& strides) {
  LoopDims<K> d;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1) continue;
    bool merge = !d.shape.empty();
    for (size_t k = 0; k < K && merge; ++k) merge = d.strides[k].back() == (*strides[k])[i] * shape[i];
    if (merge) {
      d.shape.back() *= shape[i];
      for (size_t k = 0; k < K; ++k) d.strides[k].back() = (*strides[k])[i];
    } else {
      d.shape.push_back(shape[i]);
      for (size_t k = 0; k < K; ++k) d.strides[k].push_back((*strides[k])[i]);
    }
  }
  if (d.shape.empty()) {
    d.shape.push_back(1);
    for (size_t k = 0; k < K; ++k) d.strides[k].push_back(0);
  }
  return d;
}

using BytePtrs2 = std::array<char*, 2>;
using BytePtrs3 = std::array<char*, 3>;

/// Calls row(ptrs, n, inner_strides) for every innermost row: ptrs are byte pointers to each operand's first
/// element of the row, inner_strides are in elements. `elsize` gives each operand's element size.
template <size_t K, class Row>
void for_each_row(const Shape& shape, const std::array<const Shape*, K>& strides, std::array<char*, K> base,
                  std::array<int64_t, K> elsize, const Row& row) {
  using Ptrs = std::array<char*, K>;
  int64_t n_all = numel(shape);
  if (n_all == 0) return;
  LoopDims<K> d = coalesce<K>(shape, strides);
  size_t nd = d.shape.size();
  int64_t inner = d.shape[nd - 1];
  std::array<int64_t, K> inner_st;
  for (size_t k = 0; k < K; ++k) inner_st[k] = d.strides[k][nd - 1];
  int64_t rows = n_all / inner;
  if (rows == 1) {
    // one row: split it across threads
    parallel_for(inner, kParallelGrain, [&](int64_t b, int64_t e) {
      Ptrs p = base;
      for (size_t k = 0; k < K; ++k) p[k] += b * inner_st[k] * elsize[k];
      row(p, e - b, inner_st);
    });
    return;
  }
  parallel_for(rows, rows * inner >= kParallelGrain ? 1 : rows + 1, [&](int64_t rb, int64_t re) {
    for (int64_t r = rb; r < re; ++r) {
      Ptrs p = base;
      int64_t rem = r;
      for (size_t i = nd - 1; i-- > 0;) {
        int64_t idx = rem % d.shape[i];
        rem /= d.shape[i];
        for (size_t k = 0; k < K; ++k) p[k] += idx * d.strides[k][i] * elsize[k];
      }
      row(p, inner, inner_st);
    }
  });
}

}  // namespace nerve::cpu
