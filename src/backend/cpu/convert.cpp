// uint8 -> float with a scale and an offset in one pass (Keras's Rescaling on raw images): one output buffer
// instead of a cast followed by a multiply.
#include "backend/cpu/convert.h"
#include "backend/cpu/simd_clones.h"
#include "backend/cpu/transpose16.h"

#include <algorithm>
#include <cstring>

#include "backend/cpu/loops.h"
#include "nerve/core/parallel.h"

namespace nerve::cpu {

namespace {
// y[i * sy] = To(x[i * sx]) for i < n; a unit-stride loop the compiler vectorizes
template <class To, class Ti>
void convert_row(const char* xp, int64_t sx, char* yp, int64_t sy, int64_t n) {
  const Ti* x = reinterpret_cast<const Ti*>(xp);
  To* y = reinterpret_cast<To*>(yp);
  if (sx == 1 && sy == 1) {
    for (int64_t i = 0; i < n; ++i) y[i] = static_cast<To>(x[i]);
    return;
  }
  for (int64_t i = 0; i < n; ++i) y[i * sy] = static_cast<To>(x[i * sx]);
}
using ConvertRow = void (*)(const char*, int64_t, char*, int64_t, int64_t);
}  // namespace

void convert(const Tensor& out, const Tensor& x) {
  ConvertRow row = nullptr;
  visit_dtype(out.dtype(), [&](auto to) {
    visit_dtype(x.dtype(), [&](auto from) { row = convert_row<decltype(to), decltype(from)>; });
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

}  // namespace nerve::cpu
