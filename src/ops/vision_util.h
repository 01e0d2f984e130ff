// Argument helpers shared by the vision ops (conv.cpp, pool.cpp): (H, W) pairs given as one or two values.
#pragma once
#include <utility>

#include "nerve/core/error.h"
#include "nerve/core/shape.h"

namespace nerve::detail {

/// (v, v) from {v}, (a, b) from {a, b}; anything else throws naming op and argument.
inline std::pair<int64_t, int64_t> pair_arg(const Shape& v, const char* op, const char* arg) {
  NERVE_CHECK(v.size() == 1 || v.size() == 2, op, ": ", arg, " must hold one value or two (H, W), got ",
              to_string(v));
  return {v[0], v.back()};
}

}  // namespace nerve::detail
