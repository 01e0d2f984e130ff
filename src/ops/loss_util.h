// Helpers shared by the losses (src/ops/loss.cpp, cross_entropy.cpp) and the Keras losses in nn: reductions,
// argument checks, class-index targets.
#pragma once
#include "nerve/ops/loss.h"
#include "nerve/ops/ops.h"

namespace nerve::detail {

/// Applies the reduction to per-element losses.
Tensor reduce_loss(const Tensor& loss, Reduction reduction);
/// Checks that target has input's shape and dtype (floating), naming the op.
void check_same(const char* op, const Tensor& input, const Tensor& target);
/// Class-index targets as contiguous i64 (i32 is widened), with every entry in [0, classes) or == ignore_index.
Tensor class_targets(const char* op, const Tensor& input, const Tensor& target, int64_t classes, int64_t ignore_index);
/// Checks an optional (C) per-class weight and returns it contiguous in dtype d (undefined stays undefined).
Tensor class_weight(const char* op, const Tensor& weight, int64_t classes, DType d);

}  // namespace nerve::detail
