// Reductions: sum/mean/var/std/norm/logsumexp over any dims, max/min/argmax along a dim or overall, amax/amin,
// softmax and log_softmax.
// Kernels see either rows (reduced dims last) or columns (reduced dims first) of a contiguous tensor.
#include <cmath>
#include <limits>
#include <numeric>

#include "backend/cpu/loops.h"
#include "backend/cpu/reduce_kernels.h"
#include "backend/cpu/softmax_kernels.h"
#include "ops/op_util.h"
#include "nerve/core/profiler.h"

namespace nerve {

using detail::record;

namespace {

// Sorted, unique, wrapped dims; empty input means all dims.
std::vector<bool> reduced_mask(const Tensor& x, const Shape& dims, const char* op) {
  std::vector<bool> red(x.dim(), dims.empty());
  for (int64_t d : dims) {
    int64_t w = wrap_dim(d, x.dim(), op);
    NERVE_CHECK(x.dim() == 0 || !red[w] || dims.empty(), op, ": dim ", w, " appears multiple times in ",
                to_string(dims));
    if (x.dim() > 0) red[w] = true;
  }
  return red;
}

Shape out_shape(const Tensor& x, const std::vector<bool>& red, bool keepdim) {
  Shape s;
  for (int64_t i = 0; i < x.dim(); ++i) {
    if (!red[i])
      s.push_back(x.shape()[i]);
    else if (keepdim)
      s.push_back(1);
  }
  return s;
}

// Returns x as a contiguous (outer, inner) matrix whose rows are reduced (inner = reduced elements).
Tensor as_rows(const Tensor& x, const std::vector<bool>& red, int64_t& outer, int64_t& inner) {
  Shape perm;
  outer = 1;
  inner = 1;
  for (int64_t i = 0; i < x.dim(); ++i)
    if (!red[i]) perm.push_back(i), outer *= x.shape()[i];
  for (int64_t i = 0; i < x.dim(); ++i)
    if (red[i]) perm.push_back(i), inner *= x.shape()[i];
  bool identity = true;  // reduced dims already last: a contiguous x is already the (outer, inner) matrix
  for (size_t i = 0; i < perm.size(); ++i) identity = identity && perm[i] == static_cast<int64_t>(i);
  if (identity && x.is_contiguous()) return x;
  NoGradGuard g;
  return x.dim() ? contiguous(permute(x, perm)) : x.contiguous();
}

template <class T, class Acc>
void sum_kernel(const Tensor& x, const std::vector<bool>& red, T* out) {
  // columns: x contiguous and the reduced dims form a prefix (bias gradients, batch sums)
  int64_t nred_prefix = 0;
  while (nred_prefix < x.dim() && red[nred_prefix]) ++nred_prefix;
  bool prefix = x.is_contiguous() && nred_prefix > 0 &&
                std::all_of(red.begin() + nred_prefix, red.end(), [](bool b) { return !b; });
  int64_t R = 1, C = 1;  // C: not x.numel() / R, that is 0 when a reduced dim is empty
  for (int64_t i = 0; i < nred_prefix; ++i) R *= x.shape()[i];
  for (int64_t i = nred_prefix; i < x.dim(); ++i) C *= x.shape()[i];
  if (prefix && C > 1) {  // (C == 1 is a plain sum of everything: the row path below)
    const T* p = static_cast<const T*>(x.raw_data());
    if constexpr (std::is_same_v<T, float>) {  // columns split over threads, each summed in row order
      parallel_for(C, R * C >= kParallelGrain ? 16 : C, [&](int64_t c0, int64_t c1) {
        std::fill(out + c0, out + c1, 0.f);
        for (int64_t r = 0; r < R; ++r) cpu::add_row_f32(out + c0, p + r * C + c0, c1 - c0);
      });
    } else {
      std::vector<Acc> acc(C, Acc(0));
      for (int64_t r = 0; r < R; ++r) {
        const T* row = p + r * C;
#pragma omp simd
        for (int64_t c = 0; c < C; ++c) acc[c] += row[c];
      }
      for (int64_t c = 0; c < C; ++c) out[c] = static_cast<T>(acc[c]);
    }
    return;
  }
  int64_t outer, inner;
  Tensor rows = as_rows(x, red, outer, inner);
  const T* p = static_cast<const T*>(rows.raw_data());
  if constexpr (std::is_same_v<T, float>) {  // vectorized blocks added in double (cpu::sum_f32)
    if (outer == 1) {
      out[0] = static_cast<float>(cpu::sum_f32(p, inner));
      return;
    }
    parallel_for(outer, outer * inner >= kParallelGrain ? 1 : outer + 1, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) out[r] = static_cast<float>(cpu::sum_f32_serial(p + r * inner, inner));
    });
  } else {
    parallel_for(outer, outer * inner >= kParallelGrain ? 1 : outer + 1, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const T* row = p + r * inner;
        Acc s = 0;
#pragma omp simd reduction(+ : s)
        for (int64_t i = 0; i < inner; ++i) s += row[i];
        out[r] = static_cast<T>(s);
      }
    });
  }
}

class SumBackward : public Node {
 public:
  SumBackward(Shape in, Shape kept) : in_(std::move(in)), kept_(std::move(kept)) {}
  const char* name() const override { return "SumBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override { return {expand(reshape(g[0], kept_), in_)}; }

 private:
  Shape in_, kept_;  // input shape, output shape with keepdim
};

}  // namespace

Tensor sum(const Tensor& x_in, const Shape& dims, bool keepdim) {
  NERVE_RECORD_FUNCTION("sum");
  detail::check_arg(x_in, "sum", "x");
  Tensor x = x_in.dtype() == DType::b8 || x_in.dtype() == DType::u8 || x_in.dtype() == DType::i32
                 ? x_in.to(DType::i64) : x_in;
  std::vector<bool> red = reduced_mask(x, dims, "sum");
  Tensor out = empty(out_shape(x, red, keepdim), x.dtype(), x.device());
  if (!out.is_meta()) visit_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>)
      NERVE_ASSERT(false, "sum: bool reaches the kernel");
    else
      sum_kernel<T, T>(x, red, out.data<T>());
  });
  record<SumBackward>({&x}, out, x.shape(), out_shape(x, red, true));
  return out;
}

Tensor mean(const Tensor& x, const Shape& dims, bool keepdim) {
  NERVE_RECORD_FUNCTION("mean");
  detail::check_arg(x, "mean", "x");
  NERVE_CHECK(is_floating(x.dtype()), "mean: expected a floating tensor, got ", dtype_name(x.dtype()),
              "; convert with .to(DType::f32)");
  std::vector<bool> red = reduced_mask(x, dims, "mean");
  int64_t count = 1;
  for (int64_t i = 0; i < x.dim(); ++i)
    if (red[i]) count *= x.shape()[i];
  return sum(x, dims, keepdim) * (1.0 / static_cast<double>(count));
}

namespace {

// dx = 2 / (N - correction) * g * (x - mean) (PyTorch's var_backward): the mean's own term is 0 and left out, so
// correction >= N gives +-inf (N - correction == 0) or a finite gradient (< 0), not the NaN of inf - inf through
// the mean
class VarBackward : public Node {
 public:
  VarBackward(const Tensor& d, Shape kept, int64_t dof) : d_(d), kept_(std::move(kept)), dof_(dof) {}
  const char* name() const override { return "VarBackward"; }
  void release() override { d_.reset(); }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    return {reshape(g[0], kept_) * (2.0 / static_cast<double>(dof_)) * d_.unpack(this)};
  }

 private:
  SavedTensor d_;  // x - mean(x, dims, keepdim = true)
  Shape kept_;     // the output's shape with keepdim
  int64_t dof_;    // N - correction
};

}  // namespace

Tensor var(const Tensor& x, const Shape& dims, int64_t correction, bool keepdim) {
  NERVE_RECORD_FUNCTION("var");
  detail::check_arg(x, "var", "x");
  NERVE_CHECK(is_floating(x.dtype()), "var: expected a floating tensor, got ", dtype_name(x.dtype()));
  constexpr int64_t kMaxCorrection = int64_t{1} << 62;  // |count - correction| then fits in int64
  NERVE_CHECK(correction >= -kMaxCorrection && correction <= kMaxCorrection, "var: correction ", correction,
              " is out of range (expected a small integer, usually 0 or 1)");
  std::vector<bool> red = reduced_mask(x, dims, "var");
  int64_t count = 1;
  for (int64_t i = 0; i < x.dim(); ++i)
    if (red[i]) count *= x.shape()[i];
  Tensor d, out;
  {
    NoGradGuard g;
    d = x - mean(x, dims, true);
    out = sum(d * d, dims, keepdim) * (1.0 / static_cast<double>(std::max<int64_t>(count - correction, 0)));
  }
  record<VarBackward>({&x}, out, d, out_shape(x, red, true), count - correction);
  return out;
}

namespace {

// d std / dx = (x - mean) / (std * (N - correction)), and 0 where std is 0 (torch's std_backward masks those, where
// the composite sqrt(var) would give inf * 0 = NaN)
class StdBackward : public Node {
 public:
  StdBackward(const Tensor& x, const Tensor& out_keep, Shape dims, double inv_denom)
      : x_(x), out_(out_keep, true), dims_(std::move(dims)), inv_denom_(inv_denom) {}
  const char* name() const override { return "StdBackward"; }
  void release() override {
    x_.reset();
    out_.reset();
  }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor x = x_.unpack(this), s = out_.unpack(this);
    Tensor scale = where(eq(s, zeros({}, s.dtype(), s.device())), zeros({}, s.dtype(), s.device()), g[0] / s) * inv_denom_;
    return {(x - mean(x, dims_, true)) * scale};
  }

 private:
  SavedTensor x_, out_;  // out_ with keepdim
  Shape dims_;
  double inv_denom_;
};

}  // namespace

Tensor std(const Tensor& x, const Shape& dims, int64_t correction, bool keepdim) {
  NERVE_RECORD_FUNCTION("std");
  detail::check_arg(x, "std", "x");
  NERVE_CHECK(is_floating(x.dtype()), "std: expected a floating tensor, got ", dtype_name(x.dtype()));
  std::vector<bool> red = reduced_mask(x, dims, "std");
  int64_t count = 1;
  for (int64_t i = 0; i < x.dim(); ++i)
    if (red[i]) count *= x.shape()[i];
  Tensor out;
  {
    NoGradGuard g;
    out = sqrt(var(x, dims, correction, true));
  }
  record<StdBackward>({&x}, out, x, out, dims, 1.0 / static_cast<double>(std::max<int64_t>(count - correction, 0)));
  return keepdim ? out : reshape(out, out_shape(x, red, false));
}

// log(sum(exp(x - m))) + m with m = amax(x) held constant (its gradient cancels); an infinite m is replaced by 0,
// as torch does, so a row of -inf gives log(0) = -inf and a row holding +inf gives +inf rather than NaN. The
// gradient, exp(x - m) / sum(exp(x - m)), is the composite's.
Tensor logsumexp(const Tensor& x_in, const Shape& dims, bool keepdim) {
  NERVE_RECORD_FUNCTION("logsumexp");
  detail::check_arg(x_in, "logsumexp", "x");
  Tensor x = is_floating(x_in.dtype()) ? x_in : x_in.to(DType::f32);
  std::vector<bool> red = reduced_mask(x, dims, "logsumexp");  // bad dims named as logsumexp's, not amax's
  if (x.numel() == 0) return log(sum(exp(x), dims, keepdim));
  Tensor m;
  {
    NoGradGuard g;
    m = amax(x, dims, true);
    m = masked_fill(m, eq(abs(m), scalar_tensor(std::numeric_limits<double>::infinity(), m.dtype(), m.device())), 0.0);
  }
  Tensor out = log(sum(exp(x - m), dims, true)) + m;
  return keepdim ? out : reshape(out, out_shape(x, red, false));
}

namespace {

// d |x|_p / dx = sgn(x) |x|^(p-1) |x|_p^(1-p), 0 where x is 0 and where the norm is 0 (torch's norm_backward: at
// the zero vector the 2-norm's gradient is 0, not 0 * inf); the 0-"norm" counts and has zero gradient
class NormBackward : public Node {
 public:
  NormBackward(const Tensor& x, const Tensor& out_keep, double p) : x_(x), out_(out_keep, true), p_(p) {}
  const char* name() const override { return "NormBackward"; }
  void release() override {
    x_.reset();
    out_.reset();
  }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor x = x_.unpack(this), n = out_.unpack(this);
    if (p_ == 0) return {zeros_like(x)};
    Tensor z = zeros({}, x.dtype(), x.device());
    Tensor scale = where(eq(n, z), z, p_ == 2 ? g[0] / n : g[0] * pow(n, 1 - p_));
    Tensor xs = p_ == 2 ? x : where(eq(x, z), z, x * pow(abs(x), p_ - 2));
    return {xs * scale};
  }

 private:
  SavedTensor x_, out_;  // out_ with keepdim
  double p_;
};

}  // namespace

// p = 1 and +-inf are composites (abs's gradient is 0 at 0, amax/amin share ties as torch); the others keep their
// value and get NormBackward
Tensor norm(const Tensor& x, double p, const Shape& dims, bool keepdim) {
  NERVE_RECORD_FUNCTION("norm");
  detail::check_arg(x, "norm", "x");
  NERVE_CHECK(is_floating(x.dtype()), "norm: expected a floating tensor, got ", dtype_name(x.dtype()));
  NERVE_CHECK(!std::isnan(p), "norm: p is NaN");
  std::vector<bool> red = reduced_mask(x, dims, "norm");  // bad dims named as norm's, not sum's or amax's
  if (x.numel() == 0) return sum(x, dims, keepdim);  // every norm of nothing is 0 (as torch)
  if (p == 1) return sum(abs(x), dims, keepdim);
  if (std::isinf(p)) return p > 0 ? amax(abs(x), dims, keepdim) : amin(abs(x), dims, keepdim);
  Tensor out;
  {
    NoGradGuard g;
    if (p == 0)
      out = sum(ne(x, zeros({}, x.dtype(), x.device())).to(x.dtype()), dims, true);
    else if (p == 2)
      out = sqrt(sum(x * x, dims, true));
    else
      out = pow(sum(pow(abs(x), p), dims, true), 1.0 / p);
  }
  record<NormBackward>({&x}, out, x, out, p);
  return keepdim ? out : reshape(out, out_shape(x, red, false));
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  NERVE_RECORD_FUNCTION("sum_to");
  detail::check_arg(x, "sum_to", "x");
  if (x.shape() == shape) return x;
  int64_t lead = x.dim() - static_cast<int64_t>(shape.size());
  NERVE_CHECK(lead >= 0, "sum_to: cannot reduce ", to_string(x.shape()), " to ", to_string(shape));
  for (size_t i = 0; i < shape.size(); ++i)
    NERVE_CHECK(shape[i] == 1 || shape[i] == x.shape()[i + lead], "sum_to: cannot reduce ", to_string(x.shape()),
                " to ", to_string(shape), " (size ", shape[i], " at dim ", i, " is neither 1 nor ", x.shape()[i + lead],
                ")");
  Shape dims;
  for (int64_t i = 0; i < x.dim(); ++i)
    if (i < lead || (shape[i - lead] == 1 && x.shape()[i] != 1)) dims.push_back(i);
  if (dims.empty()) return reshape(x, shape);
  return reshape(sum(x, dims, true), shape);
}

// ------------------------------------------------------------------ max / min
namespace {

class MaxDimBackward : public Node {
 public:
  MaxDimBackward(Shape in, int64_t dim, Tensor idx, bool keepdim)
      : in_(std::move(in)), dim_(dim), idx_(std::move(idx)), keepdim_(keepdim) {}
  const char* name() const override { return "MaxBackward"; }
  void release() override { idx_ = Tensor(); }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    if (in_.empty()) return {g[0]};  // 0-d input: the value is the input
    Tensor gk = keepdim_ ? g[0] : unsqueeze(g[0], dim_);
    Tensor ik = keepdim_ ? idx_ : unsqueeze(idx_, dim_);
    return {scatter_add(zeros(in_, g[0].dtype(), g[0].device()), dim_, ik, gk)};
  }

 private:
  Shape in_;
  int64_t dim_;
  Tensor idx_;
  bool keepdim_;
};

// A max/min reduces only non-empty dims; the others may be empty, giving an empty result (as PyTorch).
void check_reduced_nonempty(const Tensor& x, const std::vector<bool>& red, const char* op) {
  for (int64_t i = 0; i < x.dim(); ++i)
    NERVE_CHECK(!red[i] || x.shape()[i] > 0, op, ": expected a non-empty tensor along the reduced dim ", i,
                ", got shape ", to_string(x.shape()), " (reduce over dims of nonzero size)");
}

// values and indices of the max (or min) along dim; NaN wins, first occurrence on ties
std::pair<Tensor, Tensor> extreme_dim(const Tensor& x, int64_t dim, bool keepdim, bool is_max, const char* op) {
  dim = x.dim() ? wrap_dim(dim, x.dim(), op) : 0;
  std::vector<bool> red(x.dim(), false);
  if (x.dim()) red[dim] = true;
  check_reduced_nonempty(x, red, op);
  int64_t outer, inner;
  Tensor rows = as_rows(x, red, outer, inner);
  Shape os = out_shape(x, red, keepdim);
  Tensor vals = empty(os, x.dtype(), x.device()), idx = empty(os, DType::i64, x.device());
  if (!x.is_meta()) visit_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = static_cast<const T*>(rows.raw_data());
    T* v = vals.data<T>();
    int64_t* ix = idx.data<int64_t>();
    if constexpr (std::is_same_v<T, float>) {  // the vectorized extreme, then its first position; rows in parallel
      parallel_for(outer, outer * inner >= kParallelGrain ? 1 : outer + 1, [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) {
          const float* row = p + r * inner;
          const float m = cpu::extreme_f32(row, inner, is_max);
          int64_t i = 0;
          if (m != m)
            while (row[i] == row[i]) ++i;  // the first NaN
          else
            while (row[i] != m) ++i;
          v[r] = m;
          ix[r] = i;
        }
      });
      return;
    }
    for (int64_t r = 0; r < outer; ++r) {
      const T* row = p + r * inner;
      int64_t best = 0;
      for (int64_t i = 1; i < inner; ++i) {
        T a = row[i], b = row[best];
        if (b != b) break;
        if (a != a || (is_max ? a > b : a < b)) best = i;
      }
      v[r] = row[best];
      ix[r] = best;
    }
  });
  if (any_requires_grad({&x}))
    set_history(make_node<MaxDimBackward>(x.shape(), dim, idx, keepdim), {&x}, {&vals});
  return {vals, idx};
}

// The gradient is split evenly among the elements equal to the result. `to_nan` (max()/min() over all elements,
// as PyTorch's evenly_distribute_backward): a NaN result sends it to the NaN elements; amax keeps NaN gradients
// there, as PyTorch's amax (x == NaN matches nothing, so 0 / 0).
class AmaxBackward : public Node {
 public:
  AmaxBackward(const Tensor& x, const Tensor& out_keep, Shape kept, bool to_nan)
      : x_(x), out_(out_keep, true), kept_(std::move(kept)), to_nan_(to_nan) {}
  const char* name() const override { return "AmaxBackward"; }
  void release() override {
    x_.reset();
    out_.reset();
  }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor x = x_.unpack(this), m = out_.unpack(this);
    const bool nan = to_nan_ && !m.is_meta() && std::isnan(m.item<double>());  // (to_nan_: one value)
    Tensor mask = (nan ? ne(x, x) : eq(x, m)).to(g[0].dtype());
    Shape dims;
    for (size_t i = 0; i < kept_.size(); ++i)
      if (kept_[i] == 1 && x.shape()[i] != 1) dims.push_back(static_cast<int64_t>(i));
    Tensor count = dims.empty() ? mask : sum(mask, dims, true);
    return {mask * reshape(g[0], kept_) / count};
  }

 private:
  SavedTensor x_, out_;
  Shape kept_;
  bool to_nan_;
};

Tensor extreme_all(const Tensor& x, const Shape& dims, bool keepdim, bool is_max, const char* op, bool to_nan = false) {
  NERVE_RECORD_FUNCTION(op);
  detail::check_arg(x, op, "x");
  std::vector<bool> red = reduced_mask(x, dims, op);
  check_reduced_nonempty(x, red, op);
  Shape kept = out_shape(x, red, true);
  Tensor out = empty(kept, x.dtype(), x.device());
  int64_t nred_prefix = 0;  // f32 with the reduced dims leading: running max of the rows, vectorized over columns
  while (nred_prefix < x.dim() && red[nred_prefix]) ++nred_prefix;
  const bool prefix = !x.is_meta() && x.dtype() == DType::f32 && x.is_contiguous() && nred_prefix > 0 && nred_prefix < x.dim() &&
                      std::none_of(red.begin() + nred_prefix, red.end(), [](bool b) { return b; });
  if (prefix) {
    int64_t R = 1, C = 1;
    for (int64_t i = 0; i < x.dim(); ++i) (i < nred_prefix ? R : C) *= x.shape()[i];
    const float* p = x.data<float>();
    float* o = out.data<float>();
    parallel_for(C, R * C >= kParallelGrain ? 16 : C, [&](int64_t c0, int64_t c1) {
      std::copy(p + c0, p + c1, o + c0);
      for (int64_t r = 1; r < R; ++r) cpu::extreme_row_into_f32(o + c0, p + r * C + c0, c1 - c0, is_max);
    });
    if (any_requires_grad({&x})) set_history(make_node<AmaxBackward>(x, out, kept, to_nan), {&x}, {&out});
    return keepdim ? out : reshape(out, out_shape(x, red, false));
  }
  int64_t outer, inner;
  Tensor rows = as_rows(x, red, outer, inner);
  if (!x.is_meta()) visit_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = static_cast<const T*>(rows.raw_data());
    T* o = out.data<T>();
    if constexpr (std::is_same_v<T, float>) {  // vectorized rows, NaN winning
      if (outer == 1) {
        o[0] = cpu::extreme_f32(p, inner, is_max);
      } else {
        parallel_for(outer, outer * inner >= kParallelGrain ? 1 : outer + 1, [&](int64_t b, int64_t e) {
          for (int64_t r = b; r < e; ++r) o[r] = cpu::extreme_f32(p + r * inner, inner, is_max);
        });
      }
      return;
    }
    for (int64_t r = 0; r < outer; ++r) {
      const T* row = p + r * inner;
      T best = row[0];
      for (int64_t i = 1; i < inner && best == best; ++i)
        if (row[i] != row[i] || (is_max ? row[i] > best : row[i] < best)) best = row[i];
      o[r] = best;
    }
  });
  if (any_requires_grad({&x})) set_history(make_node<AmaxBackward>(x, out, kept, to_nan), {&x}, {&out});
  return keepdim ? out : reshape(out, out_shape(x, red, false));
}

}  // namespace

Tensor max(const Tensor& x) { return extreme_all(x, {}, false, true, "max", true); }
Tensor min(const Tensor& x) { return extreme_all(x, {}, false, false, "min", true); }
Tensor amax(const Tensor& x, const Shape& dims, bool keepdim) { return extreme_all(x, dims, keepdim, true, "amax"); }
Tensor amin(const Tensor& x, const Shape& dims, bool keepdim) { return extreme_all(x, dims, keepdim, false, "amin"); }
std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim) {
  detail::check_arg(x, "max", "x");
  return extreme_dim(x, dim, keepdim, true, "max");
}
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim) {
  detail::check_arg(x, "min", "x");
  return extreme_dim(x, dim, keepdim, false, "min");
}
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  NERVE_RECORD_FUNCTION("argmax");
  detail::check_arg(x, "argmax", "x");
  NoGradGuard g;
  return extreme_dim(x, dim, keepdim, true, "argmax").second;
}
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim) {
  NERVE_RECORD_FUNCTION("argmin");
  detail::check_arg(x, "argmin", "x");
  NoGradGuard g;
  return extreme_dim(x, dim, keepdim, false, "argmin").second;
}

// ------------------------------------------------------------------ softmax / log_softmax
namespace {

// y = softmax or log_softmax over the last dim of a contiguous (rows, n) tensor
template <class T>
void softmax_rows(const T* x, T* y, int64_t rows, int64_t n, bool log) {
  if constexpr (std::is_same_v<T, float>) {  // vectorized rows (backend/cpu/softmax_kernels)
    parallel_for(rows, rows * n >= kParallelGrain ? 1 : rows + 1, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const float* xr = x + r * n;
        float* yr = y + r * n;
        if (log)
          cpu::log_softmax_row_full(xr, n, yr);
        else
          cpu::softmax_row_full(xr, n, yr);
      }
    });
  } else {
    parallel_for(rows, rows * n >= kParallelGrain ? 1 : rows + 1, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const T* xr = x + r * n;
        T* yr = y + r * n;
        T m = -std::numeric_limits<T>::infinity();
        for (int64_t i = 0; i < n; ++i) m = xr[i] > m || xr[i] != xr[i] ? xr[i] : m;
        if (std::isinf(m) && m < 0) m = 0;  // a row of -inf: avoid inf - inf
        T s = 0;
        for (int64_t i = 0; i < n; ++i) s += std::exp(xr[i] - m);
        if (log) {
          T ls = std::log(s) + m;
          for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] - ls;
        } else {
          T inv = T(1) / s;
          for (int64_t i = 0; i < n; ++i) yr[i] = std::exp(xr[i] - m) * inv;
        }
      }
    });
  }
}

// softmax:     dx = y * (g - sum(g * y))
// log_softmax: dx = g - exp(y) * sum(g)
template <class T>
void softmax_rows_backward(const T* g, const T* y, T* dx, int64_t rows, int64_t n, bool log) {
  if constexpr (std::is_same_v<T, float>) {
    parallel_for(rows, rows * n >= kParallelGrain ? 1 : rows + 1, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) cpu::softmax_backward_row(g + r * n, y + r * n, n, log, dx + r * n);
    });
  } else {
    for (int64_t r = 0; r < rows; ++r) {
      const T *gr = g + r * n, *yr = y + r * n;
      T* dr = dx + r * n;
      T s = 0;
      if (log) {
        for (int64_t i = 0; i < n; ++i) s += gr[i];
        for (int64_t i = 0; i < n; ++i) dr[i] = gr[i] - std::exp(yr[i]) * s;
      } else {
        for (int64_t i = 0; i < n; ++i) s += gr[i] * yr[i];
        for (int64_t i = 0; i < n; ++i) dr[i] = yr[i] * (gr[i] - s);
      }
    }
  }
}

class SoftmaxBackward : public Node {
 public:
  SoftmaxBackward(const Tensor& y, bool log) : y_(y, true), log_(log) {}
  const char* name() const override { return log_ ? "LogSoftmaxBackward" : "SoftmaxBackward"; }
  void release() override { y_.reset(); }
  std::vector<Tensor> apply(std::vector<Tensor>& grads) override {
    Tensor y = y_.unpack(this), g = grads[0].contiguous();
    Tensor dx = empty(y.shape(), y.dtype(), detail::result_device(y, g));
    if (dx.is_meta()) return {dx};
    int64_t n = y.dim() ? y.shape().back() : 1;
    visit_floating(y.dtype(), name(), [&](auto tag) {
      using T = decltype(tag);
      softmax_rows_backward<T>(g.data<T>(), y.data<T>(), dx.data<T>(), y.numel() / std::max<int64_t>(n, 1), n, log_);
    });
    return {dx};
  }

 private:
  SavedTensor y_;  // output, contiguous, softmax dim last
  bool log_;
};

Tensor softmax_impl(const Tensor& x_in, int64_t dim, bool log, const char* op) {
  NERVE_RECORD_FUNCTION(op);
  detail::check_arg(x_in, op, "x");
  Tensor x = is_floating(x_in.dtype()) ? x_in : x_in.to(DType::f32);
  if (x.dim() == 0) x = reshape(x, {1});
  dim = wrap_dim(dim, x.dim(), op);
  bool last = dim == x.dim() - 1;
  Tensor xt = last ? x : transpose(x, dim, -1);
  Tensor xc = contiguous(xt);
  Tensor y = empty(xc.shape(), xc.dtype(), xc.device());
  int64_t n = xc.shape().back();
  if (!y.is_meta()) visit_floating(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    if (n > 0) softmax_rows<T>(xc.data<T>(), y.data<T>(), xc.numel() / n, n, log);
  });
  if (any_requires_grad({&xc})) set_history(make_node<SoftmaxBackward>(y, log), {&xc}, {&y});
  Tensor out = last ? y : transpose(y, dim, -1);
  return x_in.dim() == 0 ? reshape(out, {}) : out;
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, false, "softmax"); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_impl(x, dim, true, "log_softmax"); }

}  // namespace nerve
