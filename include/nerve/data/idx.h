// IDX files (the MNIST format: 0x0000, a type byte, the number of dims, big-endian u32 dims, big-endian data),
// raw or gzip-compressed, with every header field checked so corrupt and hostile files give a clear nerve::Error.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "nerve/tensor/tensor.h"

namespace nerve::data {

/// The most dims an IDX header may declare (MNIST uses 3).
inline constexpr int kIdxMaxDims = 16;

/// Reads an IDX file; gzip is detected by its magic bytes, not the name. Types map to dtypes: 0x08 u8 -> u8,
/// 0x09 i8, 0x0B i16 and 0x0C i32 -> i32, 0x0D f32 -> f32, 0x0E f64 -> f64. The data length must match the
/// header exactly (truncated files and trailing bytes are errors).
///   Tensor images = read_idx("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz");  // (60000, 28, 28) u8
Tensor read_idx(const std::string& path);

/// read_idx on bytes already in memory (raw or gzip); `name` is used in error messages.
///   Tensor t = read_idx_from_memory(bytes, "labels.idx");
Tensor read_idx_from_memory(std::span<const uint8_t> bytes, std::string_view name);

/// Writes `t` (u8, i32, f32 or f64; at least 1 dim, each < 2^32) as IDX, gzip-compressed when `path` ends in
/// ".gz". Atomic: writes a temporary file in the same folder and renames it over `path`.
///   write_idx("labels-idx1-ubyte.gz", labels.to(DType::u8));
void write_idx(const std::string& path, const Tensor& t);

}  // namespace nerve::data
