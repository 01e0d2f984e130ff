// Movement ops: views over the same storage (reshape, permute, slice, expand, ...) and copies (contiguous,
// clone, cat, stack), each with its backward beside it.
#include <algorithm>
#include <numeric>

#include "backend/cpu/convert.h"
#include "backend/cpu/elementwise.h"
#include "nerve/autograd/grad_mode.h"
#include "nerve/autograd/node.h"
#include "nerve/ops/ops.h"
#include "nerve/core/profiler.h"
#include "ops/op_util.h"

namespace nerve {

namespace {

Tensor make_view(const Tensor& x, Shape shape, Shape strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = x.storage();
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = x.dtype();
  return Tensor(std::move(impl));
}

// Backward of any op that only changes the shape: reshape the gradient back.
class ReshapeBackward : public Node {
 public:
  explicit ReshapeBackward(Shape in) : in_(std::move(in)) {}
  const char* name() const override { return "ReshapeBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override { return {reshape(g[0], in_)}; }

 private:
  Shape in_;
};

class PermuteBackward : public Node {
 public:
  explicit PermuteBackward(Shape inv) : inv_(std::move(inv)) {}
  const char* name() const override { return "PermuteBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override { return {permute(g[0], inv_)}; }

 private:
  Shape inv_;
};

class ExpandBackward : public Node {
 public:
  explicit ExpandBackward(Shape in) : in_(std::move(in)) {}
  const char* name() const override { return "ExpandBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override { return {sum_to(g[0], in_)}; }

 private:
  Shape in_;
};

// Backward of slice/select: scatter the gradient into zeros of the input's shape.
class SliceBackward : public Node {
 public:
  SliceBackward(Shape in, int64_t dim, int64_t start, int64_t end, int64_t step, bool squeezed)
      : in_(std::move(in)), dim_(dim), start_(start), end_(end), step_(step), squeezed_(squeezed) {}
  const char* name() const override { return squeezed_ ? "SelectBackward" : "SliceBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor out = zeros(in_, g[0].dtype(), g[0].device());
    Tensor dst = slice(out, dim_, start_, end_, step_);
    dst.copy_(squeezed_ ? unsqueeze(g[0], dim_) : g[0]);
    return {out};
  }

 private:
  Shape in_;
  int64_t dim_, start_, end_, step_;
  bool squeezed_;
};

class CloneBackward : public Node {
 public:
  const char* name() const override { return "CloneBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override { return {g[0]}; }
};

class ToDtypeBackward : public Node {
 public:
  explicit ToDtypeBackward(DType in) : in_(in) {}
  const char* name() const override { return "ToCopyBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override { return {to_dtype(g[0], in_)}; }

 private:
  DType in_;
};

// each input's slice of the gradient, in that input's dtype (inputs of another floating dtype were promoted)
class CatBackward : public Node {
 public:
  CatBackward(int64_t dim, std::vector<int64_t> sizes, std::vector<DType> dtypes)
      : dim_(dim), sizes_(std::move(sizes)), dtypes_(std::move(dtypes)) {}
  const char* name() const override { return "CatBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    std::vector<Tensor> out;
    int64_t off = 0;
    for (size_t i = 0; i < sizes_.size(); ++i) {
      Tensor piece = narrow(g[0], dim_, off, sizes_[i]);
      const bool convert = dtypes_[i] != piece.dtype() && is_floating(dtypes_[i]);  // (others get no gradient)
      out.push_back(convert ? to_dtype(piece, dtypes_[i]) : piece);
      off += sizes_[i];
    }
    return out;
  }

 private:
  int64_t dim_;
  std::vector<int64_t> sizes_;
  std::vector<DType> dtypes_;
};

// Strides for viewing (shape, strides) as `target` without copying, or empty if impossible
// (PyTorch's computeStride: each group of merged input dims must be contiguous within itself).
std::optional<Shape> view_strides(const Shape& shape, const Shape& strides, const Shape& target) {
  if (numel(shape) == 0 || shape.empty()) return contiguous_strides(target);
  Shape out(target.size());
  int64_t view_d = static_cast<int64_t>(target.size()) - 1;
  int64_t chunk_base_stride = strides.empty() ? 1 : strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= shape[d];
    if (d == 0 || (shape[d - 1] != 1 && strides[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || target[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= target[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base_stride = strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}

Shape infer_shape(const Shape& target, int64_t n, const char* op, const Shape& from) {
  Shape s = target;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      NERVE_CHECK(infer < 0, op, ": only one dimension can be -1, got ", to_string(target));
      infer = static_cast<int64_t>(i);
    } else {
      NERVE_CHECK(s[i] >= 0, op, ": invalid dimension ", s[i], " in ", to_string(target));
      NERVE_CHECK(!__builtin_mul_overflow(known, s[i], &known), op, ": shape ", to_string(target),
                  " is invalid for input of size ", n, " (its number of elements overflows int64)");
    }
  }
  if (infer >= 0) {
    NERVE_CHECK(known != 0 && n % known == 0, op, ": shape ", to_string(target), " is invalid for input of size ", n,
                " (input shape ", to_string(from), ")");
    s[infer] = n / known;
  }
  NERVE_CHECK(numel(s) == n, op, ": shape ", to_string(target), " is invalid for input of size ", n,
              " (input shape ", to_string(from), ")");
  return s;
}

Tensor view_impl(const Tensor& x, const Shape& shape, const Shape& strides, int64_t offset) {
  Tensor out = make_view(x, shape, strides, offset);
  return out;
}

template <class NodeT, class... A>
void record(const Tensor& x, Tensor& out, A&&... args) {
  if (any_requires_grad({&x})) set_history(make_node<NodeT>(std::forward<A>(args)...), {&x}, {&out});
}

}  // namespace

Tensor view(const Tensor& x, const Shape& shape) {
  detail::check_arg(x, "view", "x");
  Shape s = infer_shape(shape, x.numel(), "view", x.shape());
  auto st = view_strides(x.shape(), x.strides(), s);
  NERVE_CHECK(st.has_value(), "view: size ", to_string(s), " is not compatible with input of shape ",
              to_string(x.shape()), " and strides ", to_string(x.strides()), "; use reshape() instead");
  Tensor out = view_impl(x, s, *st, x.offset());
  record<ReshapeBackward>(x, out, x.shape());
  return out;
}

Tensor reshape(const Tensor& x, const Shape& shape) {
  detail::check_arg(x, "reshape", "x");
  Shape s = infer_shape(shape, x.numel(), "reshape", x.shape());
  if (s == x.shape()) return x;
  auto st = view_strides(x.shape(), x.strides(), s);
  if (!st) return view(contiguous(x), s);
  Tensor out = view_impl(x, s, *st, x.offset());
  record<ReshapeBackward>(x, out, x.shape());
  return out;
}

Tensor permute(const Tensor& x, const Shape& dims) {
  detail::check_arg(x, "permute", "x");
  int64_t n = x.dim();
  NERVE_CHECK(static_cast<int64_t>(dims.size()) == n, "permute: got ", dims.size(), " dims ", to_string(dims),
              " for a tensor of shape ", to_string(x.shape()));
  Shape shape(n), strides(n), inv(n);
  std::vector<bool> used(n, false);
  for (int64_t i = 0; i < n; ++i) {
    int64_t d = wrap_dim(dims[i], n, "permute");
    NERVE_CHECK(!used[d], "permute: repeated dim ", d, " in ", to_string(dims));
    used[d] = true;
    shape[i] = x.shape()[d];
    strides[i] = x.strides()[d];
    inv[d] = i;
  }
  Tensor out = view_impl(x, shape, strides, x.offset());
  record<PermuteBackward>(x, out, inv);
  return out;
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  detail::check_arg(x, "transpose", "x");
  int64_t n = x.dim();
  if (n == 0) return x;
  Shape dims(n);
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[wrap_dim(d0, n, "transpose")], dims[wrap_dim(d1, n, "transpose")]);
  return permute(x, dims);
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  detail::check_arg(x, "slice", "x");
  NERVE_CHECK(x.dim() > 0, "slice: cannot slice a 0-d tensor");
  dim = wrap_dim(dim, x.dim(), "slice");
  NERVE_CHECK(step > 0, "slice: step must be positive, got ", step);
  int64_t size = x.shape()[dim];
  if (start < 0) start += size;
  if (end < 0) end += size;
  start = std::clamp<int64_t>(start, 0, size);
  end = std::clamp<int64_t>(end, start, size);
  Shape shape = x.shape(), strides = x.strides();
  shape[dim] = (end - start) / step + ((end - start) % step != 0);  // (no overflow for a huge step)
  if (shape[dim] > 1) strides[dim] *= step;  // (a dim of size <= 1 never uses its stride)
  Tensor out = view_impl(x, shape, strides, x.offset() + start * x.strides()[dim]);
  record<SliceBackward>(x, out, x.shape(), dim, start, end, step, false);
  return out;
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  detail::check_arg(x, "narrow", "x");
  NERVE_CHECK(x.dim() > 0, "narrow: cannot narrow a 0-d tensor");
  dim = wrap_dim(dim, x.dim(), "narrow");
  int64_t size = x.shape()[dim];
  if (start < 0) start += size;
  NERVE_CHECK(start >= 0 && start <= size && length >= 0 && length <= size - start, "narrow: start ", start,
              " + length ", length,
              " exceeds dimension size ", size, " of dim ", dim, " (shape ", to_string(x.shape()), ")");
  return slice(x, dim, start, start + length, 1);
}

Tensor select(const Tensor& x, int64_t dim, int64_t index) {
  detail::check_arg(x, "select", "x");
  NERVE_CHECK(x.dim() > 0, "select: cannot select from a 0-d tensor");
  dim = wrap_dim(dim, x.dim(), "select");
  int64_t size = x.shape()[dim];
  NERVE_CHECK(index >= -size && index < size, "select: index ", index, " out of range for dim ", dim, " of size ",
              size, " (shape ", to_string(x.shape()), ")");
  if (index < 0) index += size;
  Shape shape = x.shape(), strides = x.strides();
  shape.erase(shape.begin() + dim);
  strides.erase(strides.begin() + dim);
  Tensor out = view_impl(x, shape, strides, x.offset() + index * x.strides()[dim]);
  record<SliceBackward>(x, out, x.shape(), dim, index, index + 1, 1, true);
  return out;
}

Tensor expand(const Tensor& x, const Shape& target) {
  detail::check_arg(x, "expand", "x");
  int64_t n = static_cast<int64_t>(target.size()), xd = x.dim();
  NERVE_CHECK(n >= xd, "expand: the number of sizes (", n, ") must be >= the tensor's dims (", xd, "); shape ",
              to_string(x.shape()), ", target ", to_string(target));
  Shape shape(n), strides(n);
  for (int64_t i = n - 1; i >= 0; --i) {
    int64_t j = i - (n - xd);
    int64_t want = target[i];
    if (j >= 0) {
      int64_t have = x.shape()[j];
      if (want == -1) want = have;
      NERVE_CHECK(have == want || have == 1, "expand: the expanded size ", want, " must match the existing size ",
                  have, " at dim ", i, " (shape ", to_string(x.shape()), ", target ", to_string(target), ")");
      shape[i] = want;
      strides[i] = have == want ? x.strides()[j] : 0;
    } else {
      NERVE_CHECK(want >= 0, "expand: -1 not allowed in a new leading dim (target ", to_string(target), ")");
      shape[i] = want;
      strides[i] = 0;
    }
  }
  if (shape == x.shape()) return x;
  Tensor out = view_impl(x, shape, strides, x.offset());
  record<ExpandBackward>(x, out, x.shape());
  return out;
}

Tensor squeeze(const Tensor& x) {
  detail::check_arg(x, "squeeze", "x");
  Shape s;
  for (int64_t d : x.shape())
    if (d != 1) s.push_back(d);
  return reshape(x, s);
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  detail::check_arg(x, "squeeze", "x");
  if (x.dim() == 0) return x;
  dim = wrap_dim(dim, x.dim(), "squeeze");
  if (x.shape()[dim] != 1) return x;
  Shape shape = x.shape(), strides = x.strides();
  shape.erase(shape.begin() + dim);
  strides.erase(strides.begin() + dim);
  Tensor out = view_impl(x, shape, strides, x.offset());
  record<ReshapeBackward>(x, out, x.shape());
  return out;
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  detail::check_arg(x, "unsqueeze", "x");
  dim = wrap_dim(dim, x.dim() + 1, "unsqueeze");
  Shape shape = x.shape(), strides = x.strides();
  int64_t st = dim < x.dim() ? x.shape()[dim] * x.strides()[dim] : 1;
  shape.insert(shape.begin() + dim, 1);
  strides.insert(strides.begin() + dim, st);
  Tensor out = view_impl(x, shape, strides, x.offset());
  record<ReshapeBackward>(x, out, x.shape());
  return out;
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  detail::check_arg(x, "flatten", "x");
  if (x.dim() == 0) return reshape(x, {1});
  start_dim = wrap_dim(start_dim, x.dim(), "flatten");
  end_dim = wrap_dim(end_dim, x.dim(), "flatten");
  NERVE_CHECK(start_dim <= end_dim, "flatten: start_dim ", start_dim, " must be <= end_dim ", end_dim);
  Shape s(x.shape().begin(), x.shape().begin() + start_dim);
  int64_t m = 1;
  for (int64_t i = start_dim; i <= end_dim; ++i) m *= x.shape()[i];
  s.push_back(m);
  s.insert(s.end(), x.shape().begin() + end_dim + 1, x.shape().end());
  return reshape(x, s);
}

namespace {
// x (B, R, C) f32 whose last two dims are transposed in memory (strides (bs, 1, s), s >= R): out = x contiguous
// through 16x16 register transposes, batches and column blocks over threads. A strided copy reads x with a stride
// of s floats, 4 KB for a 1024-wide matrix, and every line then falls into the same few cache sets (1024x1024:
// 1.7 ms, against 0.6 ms for PyTorch).
bool copy_transposed_f32(const Tensor& x, const Tensor& out) {
  if (x.dtype() != DType::f32 || x.dim() < 2 || x.dim() > 3) return false;
  const int64_t d = x.dim(), R = x.shape()[d - 2], C = x.shape()[d - 1], s = x.strides()[d - 1];
  const int64_t B = d == 3 ? x.shape()[0] : 1, bs = d == 3 ? x.strides()[0] : 0;
  if (x.strides()[d - 2] != 1 || s < R || R < 16 || C < 16) return false;
  const float* src = x.data<float>();
  float* dst = out.data<float>();
  constexpr int64_t kBlock = 64;  // output columns per chunk
  const int64_t blocks = (C + kBlock - 1) / kBlock;
  parallel_for(B * blocks, B * R * C >= kParallelGrain ? 1 : B * blocks + 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t b = t / blocks, c0 = (t % blocks) * kBlock, cn = std::min(kBlock, C - c0);
      // out[b][i][c0 + j] = x[b][i][c0 + j] = src[b bs + i + (c0 + j) s]: rows c0.. of the (C, R) matrix at src
      cpu::transpose_f32(src + b * bs + c0 * s, s, cn, R, dst + b * R * C + c0, C);
    }
  });
  return true;
}
}  // namespace

Tensor clone(const Tensor& x) {
  NERVE_RECORD_FUNCTION("clone");
  detail::check_arg(x, "clone", "x");
  Tensor out = empty(x.shape(), x.dtype(), x.device());
  if (!out.is_meta() && !copy_transposed_f32(x, out)) cpu::convert(out, x);
  record<CloneBackward>(x, out);
  return out;
}

Tensor contiguous(const Tensor& x) {
  detail::check_arg(x, "contiguous", "x");
  return x.is_contiguous() ? x : clone(x);
}

Tensor to_dtype(const Tensor& x, DType d) {
  NERVE_RECORD_FUNCTION("to");
  detail::check_arg(x, "to_dtype", "x");
  if (d == x.dtype()) return x;
  Tensor out = empty(x.shape(), d, x.device());
  cpu::convert(out, x);
  // (bf16 too: matmul and linear compute in it, so a model's f32 weights can be converted for them and trained)
  if (is_floating(d) || d == DType::bf16) record<ToDtypeBackward>(x, out, x.dtype());
  return out;
}

Tensor cat(const std::vector<Tensor>& xs, int64_t dim) {
  NERVE_RECORD_FUNCTION("cat");
  for (const Tensor& t : xs) detail::check_arg(t, "cat", "xs[i]");
  NERVE_CHECK(!xs.empty(), "cat: expected a non-empty list of tensors");
  const Tensor& first = xs[0];
  NERVE_CHECK(first.dim() > 0, "cat: zero-dimensional tensor (at position 0) cannot be concatenated");
  dim = wrap_dim(dim, first.dim(), "cat");
  Shape shape = first.shape();
  std::vector<int64_t> sizes;
  std::vector<DType> dtypes;
  DType d = first.dtype();  // PyTorch's result type over all inputs
  int64_t total = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& t = xs[i];
    NERVE_CHECK(t.dim() == first.dim(), "cat: tensor ", i, " is ", to_string(t.shape()), ", expected ", first.dim(),
                " dims like tensor 0 ", to_string(first.shape()));
    for (int64_t d = 0; d < first.dim(); ++d)
      NERVE_CHECK(d == dim || t.shape()[d] == shape[d], "cat: sizes of tensors must match except in dim ", dim,
                  "; tensor 0 is ", to_string(first.shape()), ", tensor ", i, " is ", to_string(t.shape()));
    sizes.push_back(t.shape()[dim]);
    dtypes.push_back(t.dtype());
    d = detail::promote_types(d, t.dtype());
    total += t.shape()[dim];
  }
  shape[dim] = total;
  const bool meta = std::any_of(xs.begin(), xs.end(), [](const Tensor& t) { return t.is_meta(); });
  Tensor out = empty(shape, d, meta ? Device::meta : Device::cpu);
  {
    NoGradGuard g;
    int64_t off = 0;
    for (size_t i = 0; i < xs.size(); ++i) {
      narrow(out, dim, off, sizes[i]).copy_(xs[i]);
      off += sizes[i];
    }
  }
  bool need = false;
  for (const Tensor& t : xs) need = need || (grad_enabled() && t.requires_grad());
  if (need) set_history(make_node<CatBackward>(dim, sizes, dtypes), xs, {&out});
  return out;
}

Tensor stack(const std::vector<Tensor>& xs, int64_t dim) {
  NERVE_RECORD_FUNCTION("stack");
  for (const Tensor& t : xs) detail::check_arg(t, "stack", "xs[i]");
  NERVE_CHECK(!xs.empty(), "stack: expected a non-empty list of tensors");
  dim = wrap_dim(dim, xs[0].dim() + 1, "stack");
  std::vector<Tensor> us;
  for (size_t i = 0; i < xs.size(); ++i) {
    NERVE_CHECK(xs[i].shape() == xs[0].shape(), "stack: expects each tensor to be equal size, but got ",
                to_string(xs[0].shape()), " at entry 0 and ", to_string(xs[i].shape()), " at entry ", i);
    us.push_back(unsqueeze(xs[i], dim));
  }
  return cat(us, dim);
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  detail::check_arg(x, "split", "x");
  NERVE_CHECK(x.dim() > 0, "split: expected a tensor with at least 1 dim, got a 0-d tensor");
  NERVE_CHECK(split_size > 0, "split: split_size must be positive, got ", split_size);
  dim = wrap_dim(dim, x.dim(), "split");
  std::vector<Tensor> out;
  if (x.shape()[dim] == 0) return {narrow(x, dim, 0, 0)};  // PyTorch: one empty piece
  for (int64_t s = 0; s < x.shape()[dim]; s += split_size)
    out.push_back(narrow(x, dim, s, std::min(split_size, x.shape()[dim] - s)));
  return out;
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  detail::check_arg(x, "chunk", "x");
  NERVE_CHECK(x.dim() > 0, "chunk: expected a tensor with at least 1 dim, got a 0-d tensor");
  NERVE_CHECK(chunks > 0, "chunk: chunks must be positive, got ", chunks);
  dim = wrap_dim(dim, x.dim(), "chunk");
  int64_t size = x.shape()[dim];
  if (size == 0) {  // PyTorch: `chunks` empty pieces
    NERVE_CHECK(chunks <= (int64_t{1} << 20), "chunk: ", chunks, " empty pieces of an empty dim ", dim,
                " requested; expected at most ", int64_t{1} << 20);
    std::vector<Tensor> out;
    for (int64_t i = 0; i < chunks; ++i) out.push_back(narrow(x, dim, 0, 0));
    return out;
  }
  return split(x, std::max<int64_t>(1, size / chunks + (size % chunks != 0)), dim);
}

}  // namespace nerve
