// Random-number kernels: the conversions of random bits into uniform and normal floats. (The generator's own
// block update and tempering are in src/core/mt64.cpp.)
#pragma once
#include <cmath>
#include <cstdint>

namespace nerve::cpu {

/// The largest value uniform(low, high) may return in type T: below high (rounding low + (high - low) u for u
/// just under 1 can give high itself), or high when low == high.
template <class T>
T uniform_top(double low, double high) {
  const T h = static_cast<T>(high);
  return low < high && static_cast<double>(h) >= high ? std::nextafter(h, static_cast<T>(low)) : h;
}
inline float uniform_top_f32(double low, double high) { return uniform_top<float>(low, high); }

/// out[i] = low + (high - low) * u_i in double, rounded to float, u_i = (bits[i] >> 11) 2^-53 in [0, 1), and
/// kept below high (uniform_top).
void uniform_from_bits_f32(const uint64_t* bits, float* out, int64_t n, double low, double high);

/// Box-Muller in float, two normals per 64 random bits: u1 = (top 24 bits + 1) 2^-24 in (0, 1], u2 = the next 24
/// bits 2^-24 in [0, 1); r = sqrt(-2 ln u1), and the pair r cos(2 pi u2), r sin(2 pi u2) goes to cos_out[i],
/// sin_out[i] (the angle reduced exactly on u2's bits: errors of a few ulp). |values| <= 5.77.
void normal_pairs_from_bits_f32(const uint64_t* bits, float* cos_out, float* sin_out, int64_t n);

/// The pair for one word, as the kernel computes it (reference for tests).
void normal_pair_from_bits(uint64_t bits, float& c, float& s);

}  // namespace nerve::cpu
