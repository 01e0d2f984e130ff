// Selection and indexing: where, masked_fill, masked_select, gather, scatter_add/scatter, index_add, index_select, one_hot.
#include <cstring>
#include <type_traits>

#include "backend/cpu/elementwise.h"
#include "ops/op_util.h"
#include "nerve/core/profiler.h"

namespace nerve {

using detail::record;

// ------------------------------------------------------------------ where
namespace {

class WhereBackward : public Node {
 public:
  explicit WhereBackward(const Tensor& cond) : cond_(cond) {}
  const char* name() const override { return "WhereBackward"; }
  void release() override { cond_ = Tensor(); }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor z = zeros({}, g[0].dtype(), g[0].device());
    Tensor ga, gb;
    if (next_edges[0].fn) ga = where(cond_, g[0], z);
    if (next_edges[1].fn) gb = where(cond_, z, g[0]);
    return {ga, gb};
  }

 private:
  Tensor cond_;  // bool masks are never modified by the ops that save them
};

}  // namespace

namespace {
// m ? a : b on the bits (GCC compiles the conditional to a branch, which mispredicts on a random mask)
template <class T>
inline T bit_select(bool m, T a, T b) {
  using U = std::conditional_t<sizeof(T) == 8, uint64_t,
                               std::conditional_t<sizeof(T) == 4, uint32_t, std::conditional_t<sizeof(T) == 2, uint16_t, uint8_t>>>;
  static_assert(sizeof(U) == sizeof(T));
  U ua, ub;
  std::memcpy(&ua, &a, sizeof ua);
  std::memcpy(&ub, &b, sizeof ub);
  const U mk = static_cast<U>(U(0) - static_cast<U>(m));
  const U r = static_cast<U>((ua & mk) | (ub & static_cast<U>(~mk)));
  T out;
  std::memcpy(&out, &r, sizeof out);
  return out;
}
}  // namespace

Tensor where(const Tensor& cond_in, const Tensor& a_in, const Tensor& b_in) {
  NERVE_RECORD_FUNCTION("where");
  detail::check_arg(cond_in, "where", "cond");
  detail::check_arg(a_in, "where", "a");
  detail::check_arg(b_in, "where", "b");
  NERVE_CHECK(cond_in.dtype() == DType::b8, "where: condition must be a bool tensor, got ",
              detail::describe(cond_in));
  DType d = detail::promote(a_in, b_in);
  Shape shape = broadcast_shapes(broadcast_shapes(cond_in.shape(), a_in.shape(), "where"), b_in.shape(), "where");
  Tensor c = detail::prepare(cond_in, DType::b8, shape);
  Tensor a = detail::prepare(a_in, d, shape), b = detail::prepare(b_in, d, shape);
  Tensor out = empty(shape, d, detail::result_device(cond_in, a_in, b_in));
  if (!out.is_meta()) visit_dtype(d, [&](auto tag) {
    using T = decltype(tag);
    cpu::for_each_row<4>(out.shape(), {&out.strides(), &c.strides(), &a.strides(), &b.strides()},
                         {static_cast<char*>(out.raw_data()), static_cast<char*>(c.raw_data()),
                          static_cast<char*>(a.raw_data()), static_cast<char*>(b.raw_data())},
                         {int64_t(sizeof(T)), 1, int64_t(sizeof(T)), int64_t(sizeof(T))},
                         [](std::array<char*, 4> p, int64_t n, std::array<int64_t, 4> st) {
                           T* o = reinterpret_cast<T*>(p[0]);
                           const bool* m = reinterpret_cast<const bool*>(p[1]);
                           const T* x = reinterpret_cast<const T*>(p[2]);
                           const T* y = reinterpret_cast<const T*>(p[3]);
                           // contiguous rows (a and b contiguous or one value): both values read, then selected,
                           // so the loop vectorizes (a branch on a random mask mispredicts half the time)
                           auto select = [&](auto sa, auto sb) {
#pragma omp simd
                             for (int64_t i = 0; i < n; ++i)
                               o[i] = bit_select(m[i], x[i * decltype(sa)::value], y[i * decltype(sb)::value]);
                           };
                           using I0 = std::integral_constant<int64_t, 0>;
                           using I1 = std::integral_constant<int64_t, 1>;
                           if (st[0] == 1 && st[1] == 1) {
                             if (st[2] == 1 && st[3] == 1) return select(I1{}, I1{});
                             if (st[2] == 1 && st[3] == 0) return select(I1{}, I0{});
                             if (st[2] == 0 && st[3] == 1) return select(I0{}, I1{});
                           }
                           for (int64_t i = 0; i < n; ++i) o[i * st[0]] = m[i * st[1]] ? x[i * st[2]] : y[i * st[3]];
                         });
  });
  if (any_requires_grad({&a, &b})) set_history(make_node<WhereBackward>(c), {&a, &b}, {&out});
  return out;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  NERVE_RECORD_FUNCTION("masked_fill");
  detail::check_arg(x, "masked_fill", "x");
  detail::check_arg(mask, "masked_fill", "mask");
  NERVE_CHECK(mask.dtype() == DType::b8, "masked_fill: mask must be a bool tensor, got ", detail::describe(mask));
  Shape s = broadcast_shapes(x.shape(), mask.shape(), "masked_fill");
  NERVE_CHECK(s == x.shape(), "masked_fill: mask ", to_string(mask.shape()), " does not broadcast to input ",
              to_string(x.shape()));
  return where(mask, scalar_tensor(value, x.dtype(), x.device()), x);
}

// gather from the flattened broadcast x at the positions of the true elements: the gradient is gather's scatter,
// summed back over the broadcast dims by expand's backward
Tensor masked_select(const Tensor& x, const Tensor& mask) {
  NERVE_RECORD_FUNCTION("masked_select");
  detail::check_arg(x, "masked_select", "x");
  detail::check_arg(mask, "masked_select", "mask");
  NERVE_CHECK(mask.dtype() == DType::b8, "masked_select: mask must be a bool tensor, got ", detail::describe(mask));
  Shape s = broadcast_shapes(x.shape(), mask.shape(), "masked_select");
  NERVE_CHECK(!x.is_meta() && !mask.is_meta(), "masked_select: the output's size depends on the mask's values, ",
              "which a meta tensor does not have (x is ", x.device(), ", mask is ", mask.device(), ")");
  Tensor m = expand(mask, s).contiguous();
  const bool* pm = m.data<bool>();
  std::vector<int64_t> pos;
  for (int64_t i = 0; i < m.numel(); ++i)
    if (pm[i]) pos.push_back(i);
  return gather(reshape(expand(x, s), {-1}), 0, from_vector<int64_t>(pos));
}

// ------------------------------------------------------------------ gather / scatter_add / scatter
namespace {

// Iterates every element of `index` (contiguous i64), calling f(linear offset in index, offset in other
// tensor with strides `st` where `dim` is replaced by the index value).
template <class F>
void walk_index(const Tensor& index, int64_t dim, const Shape& target_shape, const Shape& st, const char* op,
                const F& f) {
  const int64_t* ix = index.data<int64_t>();
  const int64_t n = index.numel(), nd = index.dim(), limit = target_shape[dim];
  auto checked = [&](int64_t v) {
    NERVE_CHECK(v >= 0 && v < limit, op, ": index ", v, " is out of bounds for dim ", dim, " with size ", limit,
                " (shape ", to_string(target_shape), ")");
    return v;
  };
  if (n == 0) return;
  if (nd == 0) return f(0, checked(ix[0]) * st[0]);
  // rows of the last dim: the offset of the other coordinates once per row, then one multiply-add per element
  const int64_t inner = index.shape()[nd - 1], rows = n / inner, last = nd - 1;
  Shape pos(nd, 0);
  for (int64_t r = 0; r < rows; ++r) {
    int64_t base = 0;
    for (int64_t d = 0; d < last; ++d)
      if (d != dim) base += pos[d] * st[d];
    const int64_t* row = ix + r * inner;
    // the row's bounds first, in a loop of its own (no check in the element loop)
    bool ok = true;
    for (int64_t j = 0; j < inner; ++j) ok &= static_cast<uint64_t>(row[j]) < static_cast<uint64_t>(limit);
    if (!ok)
      for (int64_t j = 0; j < inner; ++j) checked(row[j]);
    const int64_t sd = st[dim];
    if (dim == last) {
      for (int64_t j = 0; j < inner; ++j) f(r * inner + j, base + row[j] * sd);
    } else {
      const int64_t sl = st[last];
      for (int64_t j = 0; j < inner; ++j) f(r * inner + j, base + row[j] * sd + j * sl);
    }
    for (int64_t d = last - 1; d >= 0; --d) {
      if (++pos[d] < index.shape()[d]) break;
      pos[d] = 0;
    }
  }
}

void check_index(const Tensor& x, int64_t dim, const Tensor& index, const char* op) {
  NERVE_CHECK(index.dtype() == DType::i64, op, ": index must be i64, got ", detail::describe(index));
  NERVE_CHECK(index.dim() == x.dim(), op, ": index ", to_string(index.shape()), " and input ", to_string(x.shape()),
              " must have the same number of dims");
  for (int64_t d = 0; d < x.dim(); ++d)
    NERVE_CHECK(d == dim || index.shape()[d] <= x.shape()[d], op, ": index ", to_string(index.shape()),
                " is larger than input ", to_string(x.shape()), " at dim ", d);
}

class GatherBackward : public Node {
 public:
  GatherBackward(Shape in, int64_t dim, Tensor index) : in_(std::move(in)), dim_(dim), index_(std::move(index)) {}
  const char* name() const override { return "GatherBackward"; }
  void release() override { index_ = Tensor(); }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    return {scatter_add(zeros(in_, g[0].dtype(), g[0].device()), dim_, index_, g[0])};
  }

 private:
  Shape in_;
  int64_t dim_;
  Tensor index_;
};

// scatter_add: x gets the gradient, src the gradient gathered at the index; scatter: the same, except that x's
// gradient is 0 where src overwrote x
class ScatterBackward : public Node {
 public:
  ScatterBackward(int64_t dim, Tensor index, bool accumulate)
      : dim_(dim), index_(std::move(index)), accumulate_(accumulate) {}
  const char* name() const override { return accumulate_ ? "ScatterAddBackward" : "ScatterBackward"; }
  void release() override { index_ = Tensor(); }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor gx = g[0], gs;
    if (!accumulate_ && next_edges[0].fn) gx = scatter(g[0], dim_, index_, zeros(index_.shape(), g[0].dtype(), g[0].device()));
    if (next_edges[1].fn) gs = gather(g[0], dim_, index_);
    return {gx, gs};
  }

 private:
  int64_t dim_;
  Tensor index_;
  bool accumulate_;
};

}  // namespace

Tensor gather(const Tensor& x_in, int64_t dim, const Tensor& index_in) {
  NERVE_RECORD_FUNCTION("gather");
  detail::check_arg(x_in, "gather", "x");
  detail::check_arg(index_in, "gather", "index");
  if (x_in.dim() == 0 && index_in.dim() == 0)  // a 0-d input and index: the same op on one element
    return reshape(gather(reshape(x_in, {1}), dim, reshape(index_in, {1})), {});
  dim = wrap_dim(dim, x_in.dim(), "gather");
  check_index(x_in, dim, index_in, "gather");
  Tensor x = x_in.contiguous(), index = index_in.contiguous();
  if (any_requires_grad({&x})) index = index.clone();  // kept for the backward: later changes must not reach it
  Tensor out = empty(index.shape(), x.dtype(), detail::result_device(x, index));
  if (!out.is_meta()) visit_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* po = out.data<T>();
    walk_index(index, dim, x.shape(), x.strides(), "gather", [&](int64_t i, int64_t off) { po[i] = px[off]; });
  });
  record<GatherBackward>({&x}, out, x.shape(), dim, index);
  return out;
}

namespace {

// out = x, then out[index[i][j]][j] = src[i][j] (+= when accumulate) for dim 0; op names the errors
Tensor scatter_impl(const Tensor& x, int64_t dim, const Tensor& index_in, const Tensor& src_in, bool accumulate,
                    const char* op) {
  if (x.dim() == 0 && index_in.dim() == 0 && src_in.dim() == 0)  // 0-d: the same op on one element
    return reshape(scatter_impl(reshape(x, {1}), dim, reshape(index_in, {1}), reshape(src_in, {1}), accumulate, op),
                   {});
  dim = wrap_dim(dim, x.dim(), op);
  check_index(x, dim, index_in, op);
  NERVE_CHECK(src_in.dim() == index_in.dim(), op, ": src ", to_string(src_in.shape()), " and index ",
              to_string(index_in.shape()), " must have the same number of dims");
  for (int64_t d = 0; d < src_in.dim(); ++d)
    NERVE_CHECK(index_in.shape()[d] <= src_in.shape()[d], op, ": index ", to_string(index_in.shape()),
                " is larger than src ", to_string(src_in.shape()), " at dim ", d);
  Tensor index = index_in.contiguous().clone();
  Tensor src = src_in.dtype() == x.dtype() ? src_in : src_in.to(x.dtype());
  Tensor srcv = src;
  for (int64_t d = 0; d < src.dim(); ++d) srcv = narrow(srcv, d, 0, index.shape()[d]);
  Tensor srcc = srcv.contiguous();
  Tensor out;
  {
    NoGradGuard g;
    out = x.clone();
    if (detail::result_device(x, index, srcc) == Device::meta) out = out.to(Device::meta);
    if (!out.is_meta()) visit_dtype(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* ps = srcc.data<T>();
      T* po = out.data<T>();
      walk_index(index, dim, out.shape(), out.strides(), op, [&](int64_t i, int64_t off) {
        if (accumulate)
          po[off] += ps[i];
        else
          po[off] = ps[i];
      });
    });
  }
  // out depends on x (identity, or where nothing was written) and on src (gathered back)
  if (any_requires_grad({&x, &srcv}))
    set_history(make_node<ScatterBackward>(dim, index, accumulate), {&x, &srcv}, {&out});
  return out;
}

}  // namespace

Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  NERVE_RECORD_FUNCTION("scatter_add");
  detail::check_arg(x, "scatter_add", "x");
  detail::check_arg(index, "scatter_add", "index");
  detail::check_arg(src, "scatter_add", "src");
  return scatter_impl(x, dim, index, src, true, "scatter_add");
}

Tensor scatter(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  NERVE_RECORD_FUNCTION("scatter");
  detail::check_arg(x, "scatter", "x");
  detail::check_arg(index, "scatter", "index");
  detail::check_arg(src, "scatter", "src");
  return scatter_impl(x, dim, index, src, false, "scatter");
}

// scatter_add with the index repeated along every other dim (source's shape), so the gradient is scatter_add's: x
// gets g, source gets alpha * g gathered at the index
Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& source, double alpha) {
  NERVE_RECORD_FUNCTION("index_add");
  detail::check_arg(x, "index_add", "x");
  detail::check_arg(index, "index_add", "index");
  detail::check_arg(source, "index_add", "source");
  if (x.dim() == 0) return reshape(index_add(reshape(x, {1}), dim, index, source, alpha), {});
  dim = wrap_dim(dim, x.dim(), "index_add");
  NERVE_CHECK(index.dim() <= 1 && (index.dtype() == DType::i64 || index.dtype() == DType::i32),
              "index_add: index must be a 1-D i64 or i32 tensor, got ", detail::describe(index));
  NERVE_CHECK(source.dtype() == x.dtype(), "index_add: input is ", dtype_name(x.dtype()), " but source is ",
              dtype_name(source.dtype()));
  Tensor ix = reshape(index, {-1}).to(DType::i64).contiguous();
  Tensor src = source.dim() == 0 ? reshape(source, {1}) : source;  // one value for one index (torch allows it)
  bool fits = src.dim() == x.dim();
  for (int64_t d = 0; fits && d < x.dim(); ++d) fits = src.shape()[d] == (d == dim ? ix.numel() : x.shape()[d]);
  NERVE_CHECK(fits, "index_add: source ", to_string(source.shape()), " must be input ", to_string(x.shape()),
              " with dim ", dim, " of size ", ix.numel(), " (the number of indices)");
  const int64_t* pi = ix.is_meta() ? nullptr : ix.data<int64_t>();
  for (int64_t i = 0; pi && i < ix.numel(); ++i)
    NERVE_CHECK(pi[i] >= 0 && pi[i] < x.shape()[dim], "index_add: index ", pi[i], " is out of range for dim ", dim,
                " with size ", x.shape()[dim], " (input ", to_string(x.shape()), ")");
  Shape along(x.dim(), 1);
  along[dim] = -1;
  Tensor full_index = expand(reshape(ix, along), src.shape()).contiguous();
  return scatter_add(x, dim, full_index, alpha == 1.0 ? src : src * alpha);
}

// ------------------------------------------------------------------ index_select
namespace {

class IndexSelectBackward : public Node {
 public:
  IndexSelectBackward(Shape in, int64_t dim, Tensor index) : in_(std::move(in)), dim_(dim), index_(std::move(index)) {}
  const char* name() const override { return "IndexSelectBackward"; }
  void release() override { index_ = Tensor(); }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor out = zeros(in_, g[0].dtype(), detail::result_device(g[0], index_));
    if (out.is_meta()) return {out};
    const int64_t* ix = index_.data<int64_t>();
    for (int64_t i = 0; i < index_.numel(); ++i) select(out, dim_, ix[i]).add_(select(g[0], dim_, i));
    return {out};
  }

 private:
  Shape in_;
  int64_t dim_;
  Tensor index_;
};

}  // namespace

Tensor index_select(const Tensor& x_in, int64_t dim, const Tensor& index_in) {
  NERVE_RECORD_FUNCTION("index_select");
  detail::check_arg(x_in, "index_select", "x");
  detail::check_arg(index_in, "index_select", "index");
  dim = wrap_dim(dim, x_in.dim(), "index_select");
  NERVE_CHECK(index_in.dtype() == DType::i64 && index_in.dim() <= 1, "index_select: index must be a 1-D i64 tensor, got ",
              detail::describe(index_in));
  Tensor x = x_in.contiguous(), index = reshape(index_in, {-1}).contiguous().clone();
  int64_t size = x.dim() ? x.shape()[dim] : 1, n = index.numel();
  Shape os = x.shape();
  if (x.dim()) os[dim] = n;
  Tensor out = empty(os, x.dtype(), detail::result_device(x, index));
  if (out.is_meta()) {
    record<IndexSelectBackward>({&x}, out, x.shape(), dim, index);
    return out;
  }
  const int64_t* ix = index.data<int64_t>();
  for (int64_t i = 0; i < n; ++i)
    NERVE_CHECK(ix[i] >= 0 && ix[i] < size, "index_select: index ", ix[i], " is out of range for dim ", dim,
                " with size ", size, " (input ", to_string(x.shape()), ")");
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= x.shape()[d];
  for (int64_t d = dim + 1; d < x.dim(); ++d) inner *= x.shape()[d];
  size_t bytes = static_cast<size_t>(inner) * itemsize(x.dtype());
  const char* px = static_cast<const char*>(x.raw_data());
  char* po = static_cast<char*>(out.raw_data());
  // row copies, split over threads when there is enough to copy
  parallel_for(outer * n, inner * outer * n >= kParallelGrain ? std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(inner, 1)) : outer * n + 1,
               [&](int64_t b, int64_t e) {
                 for (int64_t r = b; r < e; ++r) {
                   const int64_t o = r / n, i = r % n;
                   std::memcpy(po + r * bytes, px + (o * size + ix[i]) * bytes, bytes);
                 }
               });
  record<IndexSelectBackward>({&x}, out, x.shape(), dim, index);
  return out;
}

Tensor one_hot(const Tensor& labels, int64_t num_classes) {
  NERVE_RECORD_FUNCTION("one_hot");
  detail::check_arg(labels, "one_hot", "labels");
  NERVE_CHECK(labels.dtype() == DType::i64, "one_hot: labels must be i64, got ", detail::describe(labels));
  if (labels.is_meta()) {
    NERVE_CHECK(num_classes >= 0, "one_hot: on meta labels num_classes must be given (it would be the largest ",
                "label + 1, a value the meta device does not have)");
    Shape s = labels.shape();
    s.push_back(num_classes);
    return empty(s, DType::i64, Device::meta);
  }
  std::vector<int64_t> v = labels.to_vector<int64_t>();
  int64_t mx = -1;
  for (int64_t l : v) {
    NERVE_CHECK(l >= 0, "one_hot: class values must be non-negative, got ", l);
    mx = std::max(mx, l);
  }
  if (num_classes < 0) num_classes = mx + 1;
  NERVE_CHECK(mx < num_classes, "one_hot: class value ", mx, " >= num_classes ", num_classes);
  Shape s = labels.shape();
  s.push_back(num_classes);
  Tensor out = zeros(s, DType::i64, Device::cpu);
  int64_t* p = out.data<int64_t>();
  for (size_t i = 0; i < v.size(); ++i) p[static_cast<int64_t>(i) * num_classes + v[i]] = 1;
  return out;
}

}  // namespace nerve
