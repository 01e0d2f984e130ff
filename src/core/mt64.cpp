// MT19937-64 (Matsumoto and Nishimura 1998; the 64-bit parameters of std::mt19937_64): the block update and the
// tempering of whole blocks, compiled for AVX-512, AVX2 and baseline x86-64 (integer code: the same words on each).
#include "core/mt64.h"

#include "core/simd_clones.h"
#include "nerve/core/rng.h"

namespace nerve::detail {

namespace {
constexpr int kN = 312, kM = 156;
constexpr uint64_t kMatrixA = 0xB5026F5AA96619E9ULL, kUpper = 0xFFFFFFFF80000000ULL, kLower = 0x7FFFFFFFULL;

[[gnu::always_inline]] inline uint64_t twist(uint64_t cur, uint64_t next, uint64_t far) {
  const uint64_t x = (cur & kUpper) | (next & kLower);
  return far ^ (x >> 1) ^ ((x & 1) ? kMatrixA : 0);
}

}  // namespace

NERVE_SIMD_CLONES_V void mt64_next_block(uint64_t* __restrict mt) {
  // words [0, N-M) read words [N-M, N) not yet updated, and i + 1 before it is written: in vectors, each load
  // of mt[i + 1 ...] happens before the store to mt[i ...] of the same iteration group
  uint64_t first_next[kN - kM];
  for (int i = 0; i < kN - kM; ++i) first_next[i] = mt[i + 1];
#pragma omp simd
  for (int i = 0; i < kN - kM; ++i) mt[i] = twist(mt[i], first_next[i], mt[i + kM]);
  // words [N-M, N-1) read the updated words i + M - N (at least M back)
  uint64_t second_next[kM];
  for (int i = kN - kM; i < kN - 1; ++i) second_next[i - (kN - kM)] = mt[i + 1];
#pragma omp simd
  for (int i = kN - kM; i < kN - 1; ++i) mt[i] = twist(mt[i], second_next[i - (kN - kM)], mt[i + kM - kN]);
  mt[kN - 1] = twist(mt[kN - 1], mt[0], mt[kM - 1]);
}

NERVE_SIMD_CLONES_V void mt64_temper(const uint64_t* __restrict state, uint64_t* __restrict out, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) out[i] = Generator::temper(state[i]);
}

}  // namespace nerve::detail
