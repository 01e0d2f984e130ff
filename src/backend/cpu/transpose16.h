// A 16x16 float tile transposed in registers: 4 rounds of two-vector shuffles, round k swapping bit k of the
// row index with bit k of the column index (vpermt2ps with AVX-512). Generic vector code: it compiles to each
// target of the NERVE_SIMD_CLONES function that inlines it.
#pragma once
#include <cstdint>

namespace nerve::cpu {

using v16f = float __attribute__((vector_size(64)));

// Round D: rows b and b + D (bit D of b clear) exchange their halves by the index lists LO and HI
// (__builtin_shufflevector: GCC >= 12 and clang; the lists must be constants, hence a macro).
#define NERVE_T16_UNPACK(...) __VA_ARGS__
#define NERVE_T16_ROUND(r, D, LO, HI)                              \
  for (int b = 0; b < 16; ++b)                                     \
    if (!(b & (D))) {                                              \
      const v16f x = r[b], y = r[b + (D)];                         \
      r[b] = __builtin_shufflevector(x, y, NERVE_T16_UNPACK LO);     \
      r[b + (D)] = __builtin_shufflevector(x, y, NERVE_T16_UNPACK HI); \
    }

/// r[i][j] becomes r[j][i].
[[gnu::always_inline]] inline void transpose16x16(v16f (&r)[16]) {
  NERVE_T16_ROUND(r, 1, (0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30),
                  (1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31))
  NERVE_T16_ROUND(r, 2, (0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29),
                  (2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31))
  NERVE_T16_ROUND(r, 4, (0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27),
                  (4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31))
  NERVE_T16_ROUND(r, 8, (0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23),
                  (8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31))
}
#undef NERVE_T16_ROUND
#undef NERVE_T16_UNPACK

}  // namespace nerve::cpu
