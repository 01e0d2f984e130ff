// Shapes and strides (row-major, PyTorch dimension order), broadcasting rules and printing.
#pragma once
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace nerve {

using Shape = std::vector<int64_t>;

std::ostream& operator<<(std::ostream& os, const Shape& s);
std::string to_string(const Shape& s);

int64_t numel(const Shape& s);
Shape contiguous_strides(const Shape& s);
/// Wraps a possibly negative dim into [0, ndim); throws naming `op` when out of range.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);
/// PyTorch broadcasting of two shapes; throws naming `op` when incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace nerve
