// Branch-free f32 exp, sigmoid and tanh, so the loops that use them (the RNN gate kernels, softmax rows)
// vectorize. tests/nn/test_rnn_*.cpp pin them to std::exp / std::tanh.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

namespace nerve::cpu {

/// e^r - 1 for |r| <= ln(2)/2: the Cephes expf polynomial without its leading 1 (no cancellation near 0).
inline float expm1_poly(float r) {
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  return p * r * r + r;
}

/// e^r for |r| <= ln(2)/2: the Cephes expf polynomial.
inline float exp_poly(float r) { return expm1_poly(r) + 1.0f; }

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

/// e^x - 1 over the whole float range, accurate near 0 (the polynomial alone for |x| <= ln(2)/2), as std::expm1.
inline float expm1_full(float x) {
  const float near0 = expm1_poly(x);
  return (x < 0.34657359f && x > -0.34657359f) ? near0 : exp_full(x) - 1.0f;
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

/// ln(x) over the whole float range, as std::log: -inf at 0, NaN below 0 and at NaN, inf at inf, denormals
/// scaled up first. Cephes logf: x = m 2^e with m in [sqrt(1/2), sqrt(2)), ln(m) by a degree-9 polynomial in
/// m - 1, e ln 2 added in two parts. Error ~1 ulp.
inline float log_full(float x) {
  // every operation runs unconditionally and only values are selected (with -ftrapping-math GCC will not
  // if-convert a conditional float operation, and the loop then does not vectorize)
  const bool denormal = x < 1.17549435e-38f;  // (also 0, negatives and -inf: their results are selected below)
  const float xs = x * (denormal ? 8388608.0f : 1.0f);  // * 2^23
  int32_t i;
  std::memcpy(&i, &xs, sizeof i);
  float e = static_cast<float>(((i >> 23) & 0xff) - 126) - (denormal ? 23.0f : 0.0f);
  const int32_t mi = (i & 0x007fffff) | 0x3f000000;  // mantissa as a float in [0.5, 1)
  float m;
  std::memcpy(&m, &mi, sizeof m);
  const bool small = m < 0.707106781186547524f;
  const float m2 = m + m;
  e -= small ? 1.0f : 0.0f;
  m = (small ? m2 : m) - 1.0f;
  const float z = m * m;
  float p = 7.0376836292e-2f;
  p = p * m - 1.1514610310e-1f;
  p = p * m + 1.1676998740e-1f;
  p = p * m - 1.2420140846e-1f;
  p = p * m + 1.4249322787e-1f;
  p = p * m - 1.6668057665e-1f;
  p = p * m + 2.0000714765e-1f;
  p = p * m - 2.4999993993e-1f;
  p = p * m + 3.3333331174e-1f;
  float y = p * m * z;
  y += -2.12194440e-4f * e;
  y += -0.5f * z;
  float r = m + y + 0.693359375f * e;
  const float inf = __builtin_inff();
  r = x == inf ? inf : r;
  r = x == 0.0f ? -inf : r;
  r = x >= 0.0f ? r : __builtin_nanf("");  // negatives and NaN
  return r;
}

/// The standard normal CDF, Phi(x) = erfc(-x / sqrt(2)) / 2, with erfc(z) for z >= 0 from Numerical Recipes'
/// erfcc (fractional error < 1.2e-7 everywhere, so the lower tail keeps its relative accuracy) and
/// erfc(-z) = 2 - erfc(z). The e^(-z^2) factor is computed from x itself, z^2 = x^2 / 2 split exactly by an FMA
/// (rounding z to float first would cost 2 z^2 ulp: 1e-5 of relative accuracy at x = -12). |x| is clamped at
/// 20, where erfc is already 0 in float (so +-inf and huge x give Phi = 0 or 1, not inf - inf).
inline float normal_cdf(float x) {
  const float ax = std::min(x < 0.0f ? -x : x, 20.0f);
  const float t = 1.0f / (1.0f + 0.5f * 0.707106781186547524f * ax);
  float p = 0.17087277f;
  p = p * t - 0.82215223f;
  p = p * t + 1.48851587f;
  p = p * t - 1.13520398f;
  p = p * t + 0.27886807f;
  p = p * t - 0.18628806f;
  p = p * t + 0.09678418f;
  p = p * t + 0.37409196f;
  p = p * t + 1.00002368f;
  p = p * t - 1.26551223f;
  // e^(p - x^2/2) with the exponent kept exact: x^2 = hi + lo (FMA), p - hi/2 = s + r (TwoSum), e^(r - lo/2) ~
  // 1 + r - lo/2
  const float hi = ax * ax, lo = __builtin_fmaf(ax, ax, -hi), h = 0.5f * hi;
  const float s = p - h, sb = s - p, r = (p - (s - sb)) + (-h - sb);
  // s <= -0.27: e^s in [e^-87.3, 1) by fast_exp, 0 below (Phi is then under 1e-38: no denormal results)
  const float es = s < -87.3f ? 0.0f : fast_exp(s);
  const float erfc = t * es * (1.0f + (r - 0.5f * lo));
  const float cdf = x < 0.0f ? 0.5f * erfc : 1.0f - 0.5f * erfc;
  return x != x ? x : cdf;
}

/// GELU, x Phi(x) (PyTorch's default, approximate='none').
inline float gelu_erf(float x) { return x * normal_cdf(x); }

/// d/dx GELU = Phi(x) + x phi(x).
inline float gelu_erf_grad(float x) {
  const float hi = x * x, lo = __builtin_fmaf(x, x, -hi);  // e^(-x^2/2) with x^2 = hi + lo exact, as above
  return normal_cdf(x) + x * 0.398942280401432678f * exp_full(-0.5f * hi) * (1.0f - 0.5f * lo);
}

}  // namespace nerve::cpu
