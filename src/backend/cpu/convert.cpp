// uint8 -> float with a scale and an offset in one pass (Keras's Rescaling on raw images): one output buffer
// instead of a cast followed by a multiply.
#include "backend/cpu/convert.h"
#include "core/simd_clones.h"
#include "backend/cpu/transpose16.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "backend/cpu/loops.h"
#include "nerve/core/parallel.h"

namespace nerve::cpu {

namespace {

// bf16 and f16 elements, kept as their bits
struct BF16 {
  uint16_t bits;
};
struct F16 {
  uint16_t bits;
};

uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// float -> bf16: round to nearest even; NaN stays a (quiet) NaN of the same sign (c10::BFloat16's rule)
BF16 to_bf16(float f) {
  const uint32_t u = float_bits(f);
  if (f != f) return {static_cast<uint16_t>((u >> 16) | 0x40)};
  return {static_cast<uint16_t>((u + 0x7fff + ((u >> 16) & 1)) >> 16)};
}
float from_bf16(BF16 h) { return bits_float(static_cast<uint32_t>(h.bits) << 16); }

// float -> IEEE half: round to nearest even, overflow to inf, subnormals, NaN kept (quiet, same sign)
F16 to_f16(float f) {
  const uint32_t u = float_bits(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000);
  const uint32_t a = u & 0x7fffffff;
  if (a > 0x7f800000) return {static_cast<uint16_t>(sign | 0x7e00 | ((a >> 13) & 0x3ff))};  // NaN
  if (a >= 0x477ff000) return {static_cast<uint16_t>(sign | 0x7c00)};  // rounds to >= 65520: inf
  if (a < 0x38800000) {  // below 2^-14: a subnormal half (or 0), m / 2^24
    const float m = bits_float(a) * 16777216.0f;  // exact scaling by 2^24; the add below rounds to nearest even
    return {static_cast<uint16_t>(sign | static_cast<uint16_t>(std::nearbyint(m)))};
  }
  // normal: rebias the exponent (127 -> 15) and round the 23-bit mantissa to 10 bits, to nearest even
  const uint32_t r = a - 0x38000000 + 0xfff + ((a >> 13) & 1);
  return {static_cast<uint16_t>(sign | (r >> 13))};
}
float from_f16(F16 h) {
  const uint32_t sign = static_cast<uint32_t>(h.bits & 0x8000) << 16, e = (h.bits >> 10) & 0x1f, m = h.bits & 0x3ff;
  if (e == 0) return bits_float(sign) + (sign ? -1.0f : 1.0f) * static_cast<float>(m) * 5.9604644775390625e-08f;
  if (e == 31) return bits_float(sign | 0x7f800000 | (m << 13));
  return bits_float(sign | ((e + 112) << 23) | (m << 13));
}

// one element, as static_cast for the compute types; bf16 / f16 go through float (as c10 does)
template <class To, class Ti>
To cvt(Ti v) {
  if constexpr (std::is_same_v<Ti, BF16>) return cvt<To>(from_bf16(v));
  else if constexpr (std::is_same_v<Ti, F16>) return cvt<To>(from_f16(v));
  else if constexpr (std::is_same_v<To, BF16>) return to_bf16(static_cast<float>(v));
  else if constexpr (std::is_same_v<To, F16>) return to_f16(static_cast<float>(v));
  else return static_cast<To>(v);
}

// y[i * sy] = To(x[i * sx]) for i < n; a unit-stride loop the compiler vectorizes
template <class To, class Ti>
void convert_row(const char* xp, int64_t sx, char* yp, int64_t sy, int64_t n) {
  const Ti* x = reinterpret_cast<const Ti*>(xp);
  To* y = reinterpret_cast<To*>(yp);
  if (sx == 1 && sy == 1) {
    for (int64_t i = 0; i < n; ++i) y[i] = cvt<To>(x[i]);
    return;
  }
  for (int64_t i = 0; i < n; ++i) y[i * sy] = cvt<To>(x[i * sx]);
}
using ConvertRow = void (*)(const char*, int64_t, char*, int64_t, int64_t);

// the C++ element type of every dtype, storage ones included (visit_dtype covers the compute dtypes only)
template <class F>
void visit_any(DType d, F&& f) {
  switch (d) {
    case DType::bf16: return f(BF16{});
    case DType::f16: return f(F16{});
    case DType::i8: return f(int8_t{});
    default: visit_dtype(d, f);
  }
}

}  // namespace

void convert(const Tensor& out, const Tensor& x) {
  if (out.is_meta()) return;
  ConvertRow row = nullptr;
  visit_any(out.dtype(), [&](auto to) {
    visit_any(x.dtype(), [&](auto from) { row = convert_row<decltype(to), decltype(from)>; });
  });
  for_each_row<2>(out.shape(), {&out.strides(), &x.strides()},
                  {static_cast<char*>(out.raw_data()), static_cast<char*>(x.raw_data())},
                  {int64_t(itemsize(out.dtype())), int64_t(itemsize(x.dtype()))},
                  [&](BytePtrs2 p, int64_t n, std::array<int64_t, 2> st) { row(p[1], st[1], p[0], st[0], n); });
}

namespace {
NERVE_SIMD_CLONES void u8_affine(const uint8_t* __restrict src, float* __restrict dst, int64_t n, float scale,
                                 float offset) {
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]) * scale + offset;
}

// dst (cols, rows) = float(src (rows, cols; leading dim lds))^T * scale + offset: blocks of 16 rows x 64 columns
// converted row by row into a small buffer (the plain loop vectorizes; GCC 12 turns a uint8 vector conversion
// into scalar code), then transposed in 16x16 register tiles; the edges by a plain loop.
NERVE_SIMD_CLONES_V void u8_affine_transposed(const uint8_t* __restrict src, int64_t rows, int64_t cols, int64_t lds,
                                              float* __restrict dst, float scale, float offset) {
  constexpr int64_t kc = 64;
  alignas(64) float tmp[16][kc];
  const int64_t rf = rows / 16 * 16, cf = cols / 16 * 16;
  for (int64_t i0 = 0; i0 < rf; i0 += 16)
    for (int64_t c0 = 0; c0 < cf; c0 += kc) {
      const int64_t cn = std::min(kc, cf - c0);
      for (int i = 0; i < 16; ++i) {
        const uint8_t* s = src + (i0 + i) * lds + c0;
#pragma omp simd
        for (int64_t c = 0; c < cn; ++c) tmp[i][c] = static_cast<float>(s[c]) * scale + offset;
      }
      for (int64_t j0 = 0; j0 < cn; j0 += 16) {
        v16f r[16];
        for (int i = 0; i < 16; ++i) std::memcpy(&r[i], &tmp[i][j0], sizeof(v16f));
        transpose16x16(r);
        for (int j = 0; j < 16; ++j) std::memcpy(dst + (c0 + j0 + j) * rows + i0, &r[j], sizeof(v16f));
      }
    }
  auto scalar = [&](int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
    for (int64_t j = j0; j < j1; ++j)
      for (int64_t i = i0; i < i1; ++i) dst[j * rows + i] = static_cast<float>(src[i * lds + j]) * scale + offset;
  };
  scalar(0, rf, cf, cols);
  scalar(rf, rows, 0, cols);
}
}  // namespace

NERVE_SIMD_CLONES_V void transpose_f32(const float* src, int64_t lds, int64_t nb, int64_t n, float* dst, int64_t ldd) {
  const int64_t nf = n / 16 * 16, bf = nb / 16 * 16;
  for (int64_t j0 = 0; j0 < nf; j0 += 16)
    for (int64_t b0 = 0; b0 < bf; b0 += 16) {
      v16f r[16];
      for (int b = 0; b < 16; ++b) std::memcpy(&r[b], src + (b0 + b) * lds + j0, sizeof(v16f));
      transpose16x16(r);
      for (int j = 0; j < 16; ++j) std::memcpy(dst + (j0 + j) * ldd + b0, &r[j], sizeof(v16f));
    }
  auto scalar = [&](int64_t b0, int64_t b1, int64_t j0, int64_t j1) {  // the edges
    for (int64_t j = j0; j < j1; ++j)
      for (int64_t b = b0; b < b1; ++b) dst[j * ldd + b] = src[b * lds + j];
  };
  scalar(bf, nb, 0, nf);
  scalar(0, nb, nf, n);
}

void u8_to_f32_affine_transposed_serial(const uint8_t* src, int64_t rows, int64_t cols, int64_t lds, float* dst,
                                        float scale, float offset) {
  u8_affine_transposed(src, rows, cols, lds, dst, scale, offset);
}

void u8_to_f32_affine(const uint8_t* src, float* dst, int64_t n, float scale, float offset) {
  // a small grain: the pass is cheap per element, but writing a buffer the other core read last step is not
  parallel_for(n, 8192, [&](int64_t b, int64_t e) { u8_affine(src + b, dst + b, e - b, scale, offset); });
}

void u8_to_f32_affine_serial(const uint8_t* src, float* dst, int64_t n, float scale, float offset) {
  u8_affine(src, dst, n, scale, offset);
}

// to_bf16 and from_bf16 without a branch, so the loops vectorize (the same bits: ConvertBf16.RowsRoundAsTensorTo)
NERVE_SIMD_CLONES void f32_to_bf16_serial(const float* __restrict src, uint16_t* __restrict dst, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t u = std::bit_cast<uint32_t>(src[i]);
    const uint32_t rounded = (u + 0x7fff + ((u >> 16) & 1)) >> 16, quiet_nan = (u >> 16) | 0x40;
    dst[i] = static_cast<uint16_t>(src[i] != src[i] ? quiet_nan : rounded);
  }
}

NERVE_SIMD_CLONES void bf16_to_f32_serial(const uint16_t* __restrict src, float* __restrict dst, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) dst[i] = std::bit_cast<float>(static_cast<uint32_t>(src[i]) << 16);
}

}  // namespace nerve::cpu
