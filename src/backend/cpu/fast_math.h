// Branch-free f32 exp, sigmoid and tanh, so the loops that use them (the RNN gate kernels, softmax rows)
// vectorize. tests/rnn pins them to std::exp / std::tanh.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

namespace nerve::cpu {

/// e^r for |r| <= ln(2)/2: the Cephes expf polynomial.
inline float exp_poly(float r) {
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return p;
}

/// e^x for x in about [-87, 88] (clamped outside), Cephes expf polynomial, error ~1 ulp.
inline float fast_exp(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  const float kMagic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  float n = (x * 1.44269504088896341f + kMagic) - kMagic;
  float r = x - n * 0.693359375f + n * 2.12194440e-4f;  // x - n ln2, ln2 split in two parts
  const float p = exp_poly(r);
  int32_t e = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &e, sizeof scale);
  return p * scale;
}

/// e^x over the whole float range, as std::exp: inf above ln(FLT_MAX), denormals down to 0 below about -104,
/// NaN stays NaN. fast_exp's reduction and polynomial on x clamped to [-104, 88.8]; the scale 2^n (n in
/// [-150, 128]) is applied as two factors 2^(n>>1) and 2^(n-(n>>1)), each a normal float. Error ~1 ulp.
inline float exp_full(float x) {
  const float xc = std::min(std::max(x, -104.0f), 88.8f);
  const float kMagic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer, kept in the low mantissa bits
  const float t = xc * 1.44269504088896341f + kMagic;
  int32_t ti, mi;
  std::memcpy(&ti, &t, sizeof ti);
  std::memcpy(&mi, &kMagic, sizeof mi);
  const int32_t n = ti - mi;  // round(xc / ln 2), no float->int conversion (a NaN x gives a harmless value)
  const float nf = t - kMagic;
  const float r = xc - nf * 0.693359375f + nf * 2.12194440e-4f;  // xc - n ln2, ln2 split in two parts
  const float p = exp_poly(r);
  const int32_t n1 = n >> 1, e1 = (n1 + 127) << 23, e2 = (n - n1 + 127) << 23;
  float s1, s2;
  std::memcpy(&s1, &e1, sizeof s1);
  std::memcpy(&s2, &e2, sizeof s2);
  const float y = p * s1 * s2;
  return x != x ? x : y;
}

/// 1 / (1 + e^-x).
inline float fast_sigmoid(float x) { return 1.0f / (1.0f + fast_exp(-x)); }

/// tanh(x): the rational approximation Eigen uses for float (13/6 degree, clamped at +-7.9), error a few ulp.
inline float fast_tanh(float x) {
  const float kClamp = 7.90531110763549805f;
  float xc = x < -kClamp ? -kClamp : (x > kClamp ? kClamp : x);
  float x2 = xc * xc;
  float p = -2.76076847742355e-16f;
  p = p * x2 + 2.00018790482477e-13f;
  p = p * x2 - 8.60467152213735e-11f;
  p = p * x2 + 5.12229709037114e-08f;
  p = p * x2 + 1.48572235717979e-05f;
  p = p * x2 + 6.37261928875436e-04f;
  p = p * x2 + 4.89352455891786e-03f;
  p = p * xc;
  float q = 1.19825839466702e-06f;
  q = q * x2 + 1.18534705686654e-04f;
  q = q * x2 + 2.26843463243900e-03f;
  q = q * x2 + 4.89352518554385e-03f;
  float t = p / q;
  return (x < 0.0004f && x > -0.0004f) ? x : t;
}

}  // namespace nerve::cpu
