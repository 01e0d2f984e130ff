// Random-number kernels (see random_kernels.h): random words to uniform and normal floats. sin and cos are
// Cephes' sinf/cosf polynomials on [-pi/4, pi/4].
#include "backend/cpu/random_kernels.h"

#include <cmath>

#include "backend/cpu/fast_math.h"
#include "core/simd_clones.h"

namespace nerve::cpu {

namespace {
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
