// Helpers shared by the op implementations: dtype promotion, broadcasting operands, recording history.
#pragma once
#include "backend/cpu/binary_kernels.h"
#include "backend/cpu/loops.h"
#include "nerve/autograd/grad_mode.h"
#include "nerve/autograd/node.h"
#include "nerve/ops/ops.h"

namespace nerve::detail {

/// PyTorch's promote_types: the higher category (bool < integer < floating), then the wider type.
DType promote_types(DType a, DType b);
/// PyTorch's result type for a binary op (a 0-d operand does not raise the category of a dimensioned one).
DType promote(const Tensor& a, const Tensor& b);
/// A 0-d tensor holding s, typed to combine with x as PyTorch does a Python float (int tensor * 2.0 -> f32).
Tensor scalar_like(double s, const Tensor& x);
/// Casts to dtype d and broadcasts to `shape` (both differentiable).
Tensor prepare(const Tensor& x, DType d, const Shape& shape);
/// `op: a is [..] f32, b is [..] f32` for error messages.
std::string describe(const Tensor& a, const Tensor& b);
std::string describe(const Tensor& a);
/// out = one(a, b) for f32 a, b of out's shape (already broadcast), row by row: rows where out is contiguous and
/// each operand contiguous or a single value go to vec(a, sa, b, sb, out, n) (sa, sb: 0 or 1), the others
/// through `one` per element. Out: float or bool. out may be a or b.
template <class Out, class Vec, class One>
void f32_rows(const Tensor& out, const Tensor& a, const Tensor& b, const Vec& vec, const One& one) {
  if (out.is_meta()) return;
  cpu::for_each_row<3>(out.shape(), {&out.strides(), &a.strides(), &b.strides()},
                       {static_cast<char*>(out.raw_data()), static_cast<char*>(a.raw_data()),
                        static_cast<char*>(b.raw_data())},
                       {int64_t(sizeof(Out)), 4, 4}, [&](cpu::BytePtrs3 p, int64_t n, std::array<int64_t, 3> st) {
                         Out* o = reinterpret_cast<Out*>(p[0]);
                         const float *x = reinterpret_cast<const float*>(p[1]), *y = reinterpret_cast<const float*>(p[2]);
                         if (st[0] == 1 && (st[1] == 0 || st[1] == 1) && (st[2] == 0 || st[2] == 1))
                           return vec(x, st[1], y, st[2], o, n);
                         for (int64_t i = 0; i < n; ++i) o[i * st[0]] = one(x[i * st[1]], y[i * st[2]]);
                       });
}

/// out = op(a, b) for f32 tensors of out's shape (a, b already broadcast): vectorized rows where the layout
/// allows; out may be a or b (the in-place ops).
void binary_rows_f32(cpu::VecBinary op, const Tensor& out, const Tensor& a, const Tensor& b, float alpha);

/// The device of an op's result: meta when any input is meta (a cpu operand next to a meta one is only looked at
/// for its shape and dtype), else cpu. Ops allocate there, never on the thread's default device.
inline Device result_device(const Tensor& a) { return a.device(); }
inline Device result_device(const Tensor& a, const Tensor& b) {
  return a.is_meta() || b.is_meta() ? Device::meta : Device::cpu;
}
inline Device result_device(const Tensor& a, const Tensor& b, const Tensor& c) {
  return a.is_meta() || b.is_meta() || c.is_meta() ? Device::meta : Device::cpu;
}

/// Records a node when grad mode is on and any input requires grad.
template <class NodeT, class... A>
void record(std::initializer_list<const Tensor*> inputs, Tensor& out, A&&... args) {
  if (any_requires_grad(inputs)) set_history(make_node<NodeT>(std::forward<A>(args)...), inputs, {&out});
}

}  // namespace nerve::detail
