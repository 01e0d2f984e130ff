// Vectorized f32 binary arithmetic (AVX-512 / AVX2 / baseline clones) for the elementwise ops' rows: both
// operands contiguous, or one of them a single value (a tensor-scalar op, or a broadcast row).
#pragma once
#include <cstdint>

namespace nerve::cpu {

enum class VecBinary { add, sub, mul, div, max, min };

/// The op on two values, as the vectorized loops compute it (max/min: NaN wins; add/sub: a +- alpha b).
inline float vec_binary_one(VecBinary op, float a, float b, float alpha) {
  switch (op) {
    case VecBinary::add: return a + alpha * b;
    case VecBinary::sub: return a - alpha * b;
    case VecBinary::mul: return a * b;
    case VecBinary::div: return a / b;
    case VecBinary::max: return a > b || a != a ? a : b;
    case VecBinary::min: return a < b || a != a ? a : b;
  }
  return a;
}

/// out[i] = op(a[i * sa], b[i * sb]) for i < n, with sa and sb each 0 or 1; out may be a or b (in place).
void vec_binary_f32(VecBinary op, const float* a, int64_t sa, const float* b, int64_t sb, float* out, int64_t n,
                    float alpha);

enum class VecCompare { eq, ne, lt, le, gt, ge };

/// The comparison of two values (IEEE: any comparison with NaN is false but ne).
inline bool vec_compare_one(VecCompare op, float a, float b) {
  switch (op) {
    case VecCompare::eq: return a == b;
    case VecCompare::ne: return a != b;
    case VecCompare::lt: return a < b;
    case VecCompare::le: return a <= b;
    case VecCompare::gt: return a > b;
    case VecCompare::ge: return a >= b;
  }
  return false;
}

/// out[i] = op(a[i * sa], b[i * sb]) for i < n, with sa and sb each 0 or 1.
void vec_compare_f32(VecCompare op, const float* a, int64_t sa, const float* b, int64_t sb, bool* out, int64_t n);

/// p[i] = v for i < n, 4- and 8-byte elements (any dtype, by its bits): full-width vector stores.
void fill_bits32(uint32_t* p, int64_t n, uint32_t v);
void fill_bits64(uint64_t* p, int64_t n, uint64_t v);

}  // namespace nerve::cpu
