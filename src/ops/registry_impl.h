// How the op families add their entries to the registry (src/ops/registry.cpp calls each once).
#pragma once
#include <vector>

#include "nerve/ops/registry.h"

namespace nerve {

void register_unary_ops(std::vector<OpInfo>& ops);  // unary.cpp: the unary_ops.def table and clamp

}  // namespace nerve
