// Fused type conversions used on the input path (uint8 images to float).
#pragma once
#include <cstdint>

namespace nerve::cpu {

/// dst[i] = float(src[i]) * scale + offset, split over threads by contiguous ranges.
void u8_to_f32_affine(const uint8_t* src, float* dst, int64_t n, float scale, float offset);
/// The same on the calling thread only.
void u8_to_f32_affine_serial(const uint8_t* src, float* dst, int64_t n, float scale, float offset);

}  // namespace nerve::cpu
