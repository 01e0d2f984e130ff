// Helpers for the optimizer update loops: per-parameter state buffers and the dtype dispatch of a fused loop.
#pragma once
#include <string>

#include "nerve/core/parallel.h"
#include "nerve/ops/ops.h"
#include "nerve/optim/optimizer.h"

namespace nerve::optim::detail {

/// The named state buffer of a parameter, created filled with `init` on first use.
inline Tensor& buffer(ParamState& s, const std::string& name, const Tensor& param, double init = 0.0) {
  auto it = s.buffers.find(name);
  if (it == s.buffers.end()) it = s.buffers.emplace(name, full(param.shape(), init, param.dtype())).first;
  return it->second;
}

/// Runs body(begin, end) over the elements of a parameter, split across threads for large ones.
template <class F>
void for_range(int64_t n, const F& body) {
  parallel_for(n, kParallelGrain, body);
}

inline void check_nonneg(const char* opt, const char* key, double v) {
  NERVE_CHECK(v >= 0.0, opt, ": invalid ", key, " value: ", v, " (must be >= 0)");
}

inline void check_beta(const char* opt, const char* key, double v) {
  NERVE_CHECK(v >= 0.0 && v < 1.0, opt, ": invalid ", key, " value: ", v, " (must be in [0, 1))");
}

}  // namespace nerve::optim::detail
