// Element types and the single place where a runtime dtype becomes a C++ type (visit_dtype).
#pragma once
#include <cstddef>
#include <cstdint>
#include <ostream>

#include "nerve/core/error.h"

namespace nerve {

/// f32 .. b8 are compute dtypes (every op). bf16, f16 and i8 are storage dtypes for now: tensors of them are made,
/// viewed, copied, converted (`to`, `copy_`, `clone`, `fill_`) and read (`to_vector`, `item`), and other ops ask
/// for a conversion to a compute dtype first; bf16 and f16 round to nearest even with NaN kept, as PyTorch.
enum class DType : uint8_t { f32, f64, i64, i32, u8, b8, bf16, f16, i8 };
inline constexpr int kNumDTypes = 9;

inline constexpr size_t itemsize(DType d) {
  switch (d) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i64: return 8;
    case DType::i32: return 4;
    case DType::u8: return 1;
    case DType::b8: return 1;
    case DType::bf16: return 2;
    case DType::f16: return 2;
    case DType::i8: return 1;
  }
  return 0;
}

inline constexpr const char* dtype_name(DType d) {
  switch (d) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::i64: return "i64";
    case DType::i32: return "i32";
    case DType::u8: return "u8";
    case DType::b8: return "bool";
    case DType::bf16: return "bf16";
    case DType::f16: return "f16";
    case DType::i8: return "i8";
  }
  return "?";
}

inline std::ostream& operator<<(std::ostream& os, DType d) { return os << dtype_name(d); }

/// The floating compute dtypes (f32, f64): what autograd and the float kernels take.
inline constexpr bool is_floating(DType d) { return d == DType::f32 || d == DType::f64; }
/// bf16, f16 and i8: storage only (see DType).
inline constexpr bool is_storage_only(DType d) { return d == DType::bf16 || d == DType::f16 || d == DType::i8; }

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<int64_t>() { return DType::i64; }
template <> constexpr DType dtype_of<int32_t>() { return DType::i32; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::u8; }
template <> constexpr DType dtype_of<bool>() { return DType::b8; }

/// Calls f(T{}) with T the C++ type of d: the one switch over dtypes.
///   visit_dtype(t.dtype(), [&](auto tag) { using T = decltype(tag); ... });
template <class F>
decltype(auto) visit_dtype(DType d, F&& f) {
  switch (d) {
    case DType::f32: return f(float{});
    case DType::f64: return f(double{});
    case DType::i64: return f(int64_t{});
    case DType::i32: return f(int32_t{});
    case DType::u8: return f(uint8_t{});
    case DType::b8: return f(bool{});
    case DType::bf16:
    case DType::f16:
    case DType::i8: break;
  }
  NERVE_CHECK(false, dtype_name(d), " tensors are storage only in this version (made, viewed, copied, converted, ",
              "read); convert with .to(DType::f32) to compute with them");
  return f(float{});
}

/// Like visit_dtype for floating types only; other dtypes throw naming `op`.
template <class F>
decltype(auto) visit_floating(DType d, const char* op, F&& f) {
  if (d == DType::f64) return f(double{});
  NERVE_CHECK(d == DType::f32, op, ": expected a floating tensor (f32 or f64), got ", dtype_name(d));
  return f(float{});
}

}  // namespace nerve
