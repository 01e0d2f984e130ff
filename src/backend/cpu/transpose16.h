// A 16x16 float tile transposed in registers: 4 rounds of two-vector shuffles, round k swapping bit k of the
// row index with bit k of the column index (vpermt2ps with AVX-512). Generic vector code: it compiles to each
// target of the NERVE_SIMD_CLONES function that inlines it.
#pragma once
#include <cstdint>

namespace nerve::cpu {

using v16f = float __attribute__((vector_size(64)));
using v16i = int32_t __attribute__((vector_size(64)));

namespace transpose16_detail {
template <int D>
[[gnu::always_inline]] inline void swap_index_bit(v16f (&r)[16], const v16i& lo, const v16i& hi) {
  for (int b = 0; b < 16; ++b)
    if (!(b & D)) {
      const v16f x = r[b], y = r[b + D];
      r[b] = __builtin_shuffle(x, y, lo);
      r[b + D] = __builtin_shuffle(x, y, hi);
    }
}
}  // namespace transpose16_detail

/// r[i][j] becomes r[j][i].
[[gnu::always_inline]] inline void transpose16x16(v16f (&r)[16]) {
  transpose16_detail::swap_index_bit<1>(r, v16i{0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30},
                            v16i{1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31});
  transpose16_detail::swap_index_bit<2>(r, v16i{0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29},
                            v16i{2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31});
  transpose16_detail::swap_index_bit<4>(r, v16i{0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27},
                            v16i{4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31});
  transpose16_detail::swap_index_bit<8>(r, v16i{0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23},
                            v16i{8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31});
}

}  // namespace nerve::cpu
