// Vectorized f32 binary arithmetic and comparisons. Built with -ffp-contract=off (CMakeLists.txt): a + alpha b is
// not fused into an FMA here, so contiguous and strided rows (vec_binary_one, compiled for baseline x86-64) agree exactly.
#include "backend/cpu/binary_kernels.h"
#include "core/simd_clones.h"

namespace nerve::cpu {

namespace {
// out[i] = f(a[i], b[i]) with either operand possibly one value (stride 0).
// (no __restrict: out may be a, or b, for the in-place ops; omp simd already rules out loop-carried dependences,
// and an element is only ever read before it is written at the same index)
template <class Out, class F>
[[gnu::always_inline]] inline void rows(const float* a, int64_t sa, const float* b, int64_t sb, Out* out, int64_t n,
                                        F f) {
  if (sa == 1 && sb == 1) {
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], b[i]);
  } else if (sa == 1) {
    const float bv = b[0];
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], bv);
  } else if (sb == 1) {
    const float av = a[0];
#pragma omp simd
    for (int64_t i = 0; i < n; ++i) out[i] = f(av, b[i]);
  } else {
    const Out v = f(a[0], b[0]);
    for (int64_t i = 0; i < n; ++i) out[i] = v;
  }
}

// one clone set per op (target_clones takes no templates)
#define NERVE_BINARY_CLONE(name, op)                                                                        \
  NERVE_SIMD_CLONES_V void name(const float* a, int64_t sa, const float* b, int64_t sb, float* out, int64_t n, \
                                float alpha) {                                                              \
    rows(a, sa, b, sb, out, n, [alpha](float x, float y) { return vec_binary_one(op, x, y, alpha); });      \
  }
NERVE_BINARY_CLONE(add_f32, VecBinary::add)
NERVE_BINARY_CLONE(sub_f32, VecBinary::sub)
NERVE_BINARY_CLONE(mul_f32, VecBinary::mul)
NERVE_BINARY_CLONE(div_f32, VecBinary::div)
NERVE_BINARY_CLONE(max_f32, VecBinary::max)
NERVE_BINARY_CLONE(min_f32, VecBinary::min)
#undef NERVE_BINARY_CLONE

#define NERVE_COMPARE_CLONE(name, op)                                                                          \
  NERVE_SIMD_CLONES_V void name(const float* a, int64_t sa, const float* b, int64_t sb, bool* out, int64_t n) { \
    rows(a, sa, b, sb, out, n, [](float x, float y) { return vec_compare_one(op, x, y); });                   \
  }
NERVE_COMPARE_CLONE(eq_f32, VecCompare::eq)
NERVE_COMPARE_CLONE(ne_f32, VecCompare::ne)
NERVE_COMPARE_CLONE(lt_f32, VecCompare::lt)
NERVE_COMPARE_CLONE(le_f32, VecCompare::le)
NERVE_COMPARE_CLONE(gt_f32, VecCompare::gt)
NERVE_COMPARE_CLONE(ge_f32, VecCompare::ge)
#undef NERVE_COMPARE_CLONE
}  // namespace

void vec_compare_f32(VecCompare op, const float* a, int64_t sa, const float* b, int64_t sb, bool* out, int64_t n) {
  switch (op) {
    case VecCompare::eq: return eq_f32(a, sa, b, sb, out, n);
    case VecCompare::ne: return ne_f32(a, sa, b, sb, out, n);
    case VecCompare::lt: return lt_f32(a, sa, b, sb, out, n);
    case VecCompare::le: return le_f32(a, sa, b, sb, out, n);
    case VecCompare::gt: return gt_f32(a, sa, b, sb, out, n);
    case VecCompare::ge: return ge_f32(a, sa, b, sb, out, n);
  }
}

// (baseline SSE2 stores fill 1M floats in ~70 us, AVX-512 stores of whole lines in ~25 us on Zen 4)
NERVE_SIMD_CLONES_V void fill_bits32(uint32_t* p, int64_t n, uint32_t v) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) p[i] = v;
}
NERVE_SIMD_CLONES_V void fill_bits64(uint64_t* p, int64_t n, uint64_t v) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) p[i] = v;
}

void vec_binary_f32(VecBinary op, const float* a, int64_t sa, const float* b, int64_t sb, float* out, int64_t n,
                    float alpha) {
  switch (op) {
    case VecBinary::add: return add_f32(a, sa, b, sb, out, n, alpha);
    case VecBinary::sub: return sub_f32(a, sa, b, sb, out, n, alpha);
    case VecBinary::mul: return mul_f32(a, sa, b, sb, out, n, alpha);
    case VecBinary::div: return div_f32(a, sa, b, sb, out, n, alpha);
    case VecBinary::max: return max_f32(a, sa, b, sb, out, n, alpha);
    case VecBinary::min: return min_f32(a, sa, b, sb, out, n, alpha);
  }
}

}  // namespace nerve::cpu
