// Type conversion between any two dtypes (to, copy_, clone), fused conversions used on the input path (uint8 images
// to float), and the f32 tile transpose.
#pragma once
#include <cstdint>

#include "nerve/tensor/tensor.h"

namespace nerve::cpu {

/// out = x element by element, converted to out's dtype as static_cast does (out and x of one shape, any layouts;
/// out may not overlap x unless they are the same tensor). One row function per (to, from) pair, one row walker.
void convert(const Tensor& out, const Tensor& x);

/// dst[i] = float(src[i]) * scale + offset, split over threads by contiguous ranges.
void u8_to_f32_affine(const uint8_t* src, float* dst, int64_t n, float scale, float offset);
/// The same on the calling thread only.
void u8_to_f32_affine_serial(const uint8_t* src, float* dst, int64_t n, float scale, float offset);
/// dst (cols, rows) = the transpose of src (rows, cols; row i at src + i * lds), converted the same way, on the
/// calling thread.
void u8_to_f32_affine_transposed_serial(const uint8_t* src, int64_t rows, int64_t cols, int64_t lds, float* dst,
                                        float scale, float offset);

/// dst[i] = src[i] rounded to bf16 (nearest even; NaN stays a quiet NaN of its sign), on the calling thread.
void f32_to_bf16_serial(const float* src, uint16_t* dst, int64_t n);
/// dst[i] = src[i] (bf16 bits) widened to f32 (exact), on the calling thread.
void bf16_to_f32_serial(const uint16_t* src, float* dst, int64_t n);

/// dst[j * ldd + b] = src[b * lds + j] for b < nb, j < n (f32 16x16 tiles transposed in registers), on the
/// calling thread.
void transpose_f32(const float* src, int64_t lds, int64_t nb, int64_t n, float* dst, int64_t ldd);

}  // namespace nerve::cpu
