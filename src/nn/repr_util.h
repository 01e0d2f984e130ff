// Printing helpers for module reprs: doubles formatted as Python's repr() does, so reprs match PyTorch's.
#pragma once
#include <string>

namespace nerve::nn::detail {

/// Python's repr(float): shortest round-trip digits, "0.5", "1e-05", "1.0".
std::string py_float(double v);

}  // namespace nerve::nn::detail
