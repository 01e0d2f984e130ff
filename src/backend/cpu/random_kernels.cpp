// Random-number kernels (see random_kernels.h). MT19937-64's parameters as in std::mt19937_64; sin and cos are
// Cephes' sinf/cosf polynomials on [-pi/4, pi/4].
#include "backend/cpu/random_kernels.h"

#include <cmath>

#include "backend/cpu/fast_math.h"
#include "backend/cpu/simd_clones.h"
#include "nerve/core/rng.h"

namespace nerve::cpu {

namespace {
constexpr int kN = 312, kM = 156;
constexpr uint64_t kMatrixA = 0xB5026F5AA96619E9ULL, kUpper = 0xFFFFFFFF80000000ULL, kLower = 0x7FFFFFFFULL;

[[gnu::always_inline]] inline uint64_t twist(uint64_t cur, uint64_t next, uint64_t far) {
  const uint64_t x = (cur & kUpper) | (next & kLower);
  return far ^ (x >> 1) ^ ((x & 1) ? kMatrixA : 0);
}

[[gnu::always_inline]] inline void normal_pair(uint64_t bits, float& c, float& s) {
  const int32_t k1 = static_cast<int32_t>(bits >> 40), k2 = static_cast<int32_t>((bits >> 16) & 0xFFFFFF);
  const float u1 = static_cast<float>(k1 + 1) * 0x1p-24f;  // (0, 1]
  const float r = std::sqrt(-2.0f * log_full(u1));
  // angle 2 pi u2 = q pi/2 + phi: q = round(4 u2), phi = 2 pi (u2 - q/4) in [-pi/4, pi/4], the difference exact
  const int32_t q = (k2 + (1 << 21)) >> 22;
  const float phi = static_cast<float>(k2 - (q << 22)) * (6.28318530717958648f * 0x1p-24f);
  const float z = phi * phi;
  const float sp = phi + phi * z * ((-1.9515295891e-4f * z + 8.3321608736e-3f) * z - 1.6666654611e-1f);
  const float cp = 1.0f - 0.5f * z + z * z * ((2.443315711809948e-5f * z - 1.388731625493765e-3f) * z +
                                              4.166664568298827e-2f);
  // rotate by q quarter turns: swap for odd q, signs by quadrant (selects of values only, so the loop vectorizes)
  const int32_t qm = q & 3;
  const bool odd = qm & 1;
  const float sin_part = odd ? cp : sp, cos_part = odd ? sp : cp;
  const float sin_sign = qm >= 2 ? -1.0f : 1.0f, cos_sign = (qm == 1 || qm == 2) ? -1.0f : 1.0f;
  s = r * (sin_sign * sin_part);
  c = r * (cos_sign * cos_part);
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

NERVE_SIMD_CLONES_V void uniform_from_bits_f32(const uint64_t* __restrict bits, float* __restrict out, int64_t n,
                                               double low, double high) {
  const double span = high - low;
  const float top = uniform_top_f32(low, high);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const float v = static_cast<float>(low + span * (static_cast<double>(static_cast<int64_t>(bits[i] >> 11)) * 0x1.0p-53));
    out[i] = v < top ? v : top;
  }
}

NERVE_SIMD_CLONES_V void normal_pairs_from_bits_f32(const uint64_t* __restrict bits, float* __restrict cos_out,
                                                    float* __restrict sin_out, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) normal_pair(bits[i], cos_out[i], sin_out[i]);
}

void normal_pair_from_bits(uint64_t bits, float& c, float& s) { normal_pair(bits, c, s); }

}  // namespace nerve::cpu
