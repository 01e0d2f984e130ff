// Helpers shared by the op implementations: dtype promotion, broadcasting operands, recording history.
#pragma once
#include "backend/cpu/binary_kernels.h"
#include "nerve/autograd/grad_mode.h"
#include "nerve/autograd/node.h"
#include "nerve/ops/ops.h"

namespace nerve::detail {

/// PyTorch's result type for a binary op (a 0-d operand does not raise the category of a dimensioned one).
DType promote(const Tensor& a, const Tensor& b);
/// A 0-d tensor holding s, typed to combine with x as PyTorch does (int tensor * 2.5 -> f32).
Tensor scalar_like(double s, const Tensor& x);
/// Casts to dtype d and broadcasts to `shape` (both differentiable).
Tensor prepare(const Tensor& x, DType d, const Shape& shape);
/// `op: a is [..] f32, b is [..] f32` for error messages.
std::string describe(const Tensor& a, const Tensor& b);
std::string describe(const Tensor& a);
/// out = op(a, b) for f32 tensors of out's shape (a, b already broadcast): vectorized rows where the layout
/// allows; out may be a or b (the in-place ops).
void binary_rows_f32(cpu::VecBinary op, const Tensor& out, const Tensor& a, const Tensor& b, float alpha);

/// Records a node when grad mode is on and any input requires grad.
template <class NodeT, class... A>
void record(std::initializer_list<const Tensor*> inputs, Tensor& out, A&&... args) {
  if (any_requires_grad(inputs)) set_history(make_node<NodeT>(std::forward<A>(args)...), inputs, {&out});
}

}  // namespace nerve::detail
