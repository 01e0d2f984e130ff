// uint8 -> float with a scale and an offset in one pass (Keras's Rescaling on raw images): one output buffer
// instead of a cast followed by a multiply.
#include "backend/cpu/convert.h"
#include "backend/cpu/simd_clones.h"

#include "nerve/core/parallel.h"

namespace nerve::cpu {

namespace {
NERVE_SIMD_CLONES void u8_affine(const uint8_t* __restrict src, float* __restrict dst, int64_t n, float scale,
                                 float offset) {
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]) * scale + offset;
}
}  // namespace

void u8_to_f32_affine(const uint8_t* src, float* dst, int64_t n, float scale, float offset) {
  // a small grain: the pass is cheap per element, but writing a buffer the other core read last step is not
  parallel_for(n, 8192, [&](int64_t b, int64_t e) { u8_affine(src + b, dst + b, e - b, scale, offset); });
}

void u8_to_f32_affine_serial(const uint8_t* src, float* dst, int64_t n, float scale, float offset) {
  u8_affine(src, dst, n, scale, offset);
}

}  // namespace nerve::cpu
