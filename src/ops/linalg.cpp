// matmul (PyTorch's 1-D/2-D/batched rules) on two primitives, mm and bmm, plus the fused linear layer
// y = x W^T + b, bmm/baddbmm (mm's batched path) and the triangles tril/triu. All products go through cpu::gemm; transposed views are passed as transpose flags, not copied.
#include <algorithm>
#include <bit>
#include <type_traits>

#include "backend/cpu/gemm.h"
#include "nerve/core/parallel.h"
#include "ops/op_util.h"
#include "nerve/core/profiler.h"

namespace nerve {

namespace {

// A 2-D strided matrix as gemm wants it: pointer, transpose flag and leading dimension.
template <class T>
struct Mat {
  const T* p;
  bool trans;
  int64_t ld;
  Tensor hold;  // keeps a contiguous copy alive when one was needed
};

template <class T>
Mat<T> as_mat(const Tensor& t, const T* base, int64_t R, int64_t C, int64_t s0, int64_t s1) {
  if ((s1 == 1 || C == 1) && (R == 1 || s0 >= std::max<int64_t>(C, 1)))
    return {base, false, R == 1 ? std::max<int64_t>(C, 1) : s0, Tensor()};
  if ((s0 == 1 || R == 1) && (C == 1 || s1 >= std::max<int64_t>(R, 1)))
    return {base, true, C == 1 ? std::max<int64_t>(R, 1) : s1, Tensor()};
  (void)t;
  return {nullptr, false, 0, Tensor()};
}

// out (M, N) = a (M, K) @ b (K, N), each possibly a batch slice of a 3-D tensor
template <class T>
void mm_kernel(const Tensor& a, const Tensor& b, const Tensor& out, T beta = T(0)) {
  bool batched = a.dim() == 3;
  int64_t B = batched ? a.shape()[0] : 1;
  int64_t M = a.shape()[a.dim() - 2], K = a.shape()[a.dim() - 1], N = b.shape()[b.dim() - 1];
  Tensor ac = a, bc = b;
  auto ok = [](const Tensor& t) {
    int64_t d = t.dim();
    Mat<T> m = as_mat<T>(t, nullptr, t.shape()[d - 2], t.shape()[d - 1], t.strides()[d - 2], t.strides()[d - 1]);
    return m.ld != 0;
  };
  if (!ok(ac)) ac = ac.contiguous();
  if (!ok(bc)) bc = bc.contiguous();
  // (T is uint16_t for bf16, its bits: the dtypes were checked by the caller)
  T* o = static_cast<T*>(out.raw_data());
  for (int64_t i = 0; i < B; ++i) {
    const T* pa = static_cast<const T*>(ac.raw_data()) + (batched ? i * ac.strides()[0] : 0);
    const T* pb = static_cast<const T*>(bc.raw_data()) + (batched ? i * bc.strides()[0] : 0);
    int64_t d = ac.dim();
    Mat<T> ma = as_mat<T>(ac, pa, M, K, ac.strides()[d - 2], ac.strides()[d - 1]);
    Mat<T> mb = as_mat<T>(bc, pb, K, N, bc.strides()[d - 2], bc.strides()[d - 1]);
    if constexpr (std::is_same_v<T, uint16_t>)
      cpu::gemm_bf16(ma.trans, mb.trans, M, N, K, ma.p, ma.ld, mb.p, mb.ld, o + i * M * N, std::max<int64_t>(N, 1));
    else
      cpu::gemm(ma.trans, mb.trans, M, N, K, T(1), ma.p, ma.ld, mb.p, mb.ld, beta, o + i * M * N,
                std::max<int64_t>(N, 1));
  }
}

Tensor mm_raw(const Tensor& a, const Tensor& b) {
  Shape s = a.dim() == 3 ? Shape{a.shape()[0], a.shape()[1], b.shape()[2]} : Shape{a.shape()[0], b.shape()[1]};
  Tensor out = empty(s, a.dtype(), detail::result_device(a, b));
  if (out.is_meta()) return out;
  if (a.dtype() == DType::bf16)  // bf16 x bf16, accumulated in f32 (PyTorch's bf16 matmul)
    mm_kernel<uint16_t>(a, b, out);
  else
    visit_floating(a.dtype(), "matmul", [&](auto tag) { mm_kernel<decltype(tag)>(a, b, out); });
  return out;
}

// d(a @ b): ga = g @ b^T, gb = a^T @ g  (batched: transpose the last two dims)
class MmBackward : public Node {
 public:
  MmBackward(const Tensor& a, const Tensor& b) : a_(a), b_(b) {}
  const char* name() const override { return "MmBackward"; }
  void release() override {
    a_.reset();
    b_.reset();
  }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override {
    Tensor ga, gb;
    if (next_edges[0].fn) ga = mm_raw(g[0], transpose(b_.unpack(this), -1, -2));
    if (next_edges[1].fn) gb = mm_raw(transpose(a_.unpack(this), -1, -2), g[0]);
    return {ga, gb};
  }

 private:
  SavedTensor a_, b_;
};

Tensor mm(const Tensor& a, const Tensor& b) {
  Tensor out = mm_raw(a, b);
  if (any_requires_grad({&a, &b})) set_history(make_node<MmBackward>(a, b), {&a, &b}, {&out});
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  NERVE_RECORD_FUNCTION("matmul");
  detail::check_arg(a_in, "matmul", "a");
  detail::check_arg(b_in, "matmul", "b");
  NERVE_CHECK(a_in.dim() >= 1 && b_in.dim() >= 1, "matmul: both arguments need at least 1 dim; ",
              detail::describe(a_in, b_in));
  DType d = detail::promote(a_in, b_in);
  NERVE_CHECK(is_floating(d) || d == DType::bf16, "matmul: expected floating tensors (f32, f64, or bf16 with bf16); ",
              detail::describe(a_in, b_in));
  Tensor a = a_in.dtype() == d ? a_in : a_in.to(d), b = b_in.dtype() == d ? b_in : b_in.to(d);
  int64_t k_a = a.shape().back(), k_b = b.dim() == 1 ? b.shape()[0] : b.shape()[b.dim() - 2];
  NERVE_CHECK(k_a == k_b, "matmul: a.shape[-1] (", k_a, ") != b.shape[", b.dim() == 1 ? "0" : "-2", "] (", k_b,
              "); ", detail::describe(a_in, b_in));
  if (a.dim() == 1 && b.dim() == 1) return reshape(mm(reshape(a, {1, k_a}), reshape(b, {k_a, 1})), {});
  if (a.dim() == 1) return squeeze(matmul(unsqueeze(a, 0), b), -2);
  if (b.dim() == 1) return squeeze(matmul(a, unsqueeze(b, 1)), -1);
  if (a.dim() == 2 && b.dim() == 2) return mm(a, b);
  int64_t n = a.shape()[a.dim() - 2], p = b.shape().back();
  if (b.dim() == 2) {  // fold a's batch dims into rows: one GEMM
    Shape os(a.shape().begin(), a.shape().end() - 1);
    os.push_back(p);
    return reshape(mm(reshape(a, {-1, k_a}), b), os);
  }
  Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  for (size_t i = 1; i <= std::min(ba.size(), bb.size()); ++i) {
    int64_t da = ba[ba.size() - i], db = bb[bb.size() - i];
    NERVE_CHECK(da == db || da == 1 || db == 1, "matmul: batch dims ", to_string(ba), " and ", to_string(bb),
                " cannot be broadcast; ", detail::describe(a_in, b_in));
  }
  Shape batch = broadcast_shapes(ba, bb, "matmul");
  int64_t B = numel(batch);
  Shape ea = batch, eb = batch;
  ea.insert(ea.end(), {n, k_a});
  eb.insert(eb.end(), {k_a, p});
  Tensor a3 = reshape(expand(a, ea), {B, n, k_a});
  Tensor b3 = reshape(expand(b, eb), {B, k_a, p});
  Shape os = batch;
  os.insert(os.end(), {n, p});
  return reshape(mm(a3, b3), os);
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  NERVE_RECORD_FUNCTION("bmm");
  detail::check_arg(a, "bmm", "a");
  detail::check_arg(b, "bmm", "b");
  NERVE_CHECK(a.dim() == 3 && b.dim() == 3, "bmm: expected 3-D tensors (B, n, m) and (B, m, p); ",
              detail::describe(a, b), " (matmul broadcasts other ranks)");
  NERVE_CHECK(a.shape()[0] == b.shape()[0], "bmm: batch sizes differ (", a.shape()[0], " and ", b.shape()[0], "); ",
              detail::describe(a, b));
  NERVE_CHECK(a.shape()[2] == b.shape()[1], "bmm: a.shape[2] (", a.shape()[2], ") != b.shape[1] (", b.shape()[1],
              "); ", detail::describe(a, b));
  NERVE_CHECK(a.dtype() == b.dtype() && (is_floating(a.dtype()) || a.dtype() == DType::bf16),
              "bmm: expected two f32, two f64 or two bf16 tensors; ", detail::describe(a, b));
  return mm(a, b);
}

Tensor baddbmm(const Tensor& input, const Tensor& batch1, const Tensor& batch2, double beta, double alpha) {
  NERVE_RECORD_FUNCTION("baddbmm");
  detail::check_arg(input, "baddbmm", "input");
  detail::check_arg(batch1, "baddbmm", "batch1");
  detail::check_arg(batch2, "baddbmm", "batch2");
  Tensor prod = bmm(batch1, batch2);
  NERVE_CHECK(input.dtype() == prod.dtype(), "baddbmm: input is ", dtype_name(input.dtype()), ", batch1 and batch2 are ",
              dtype_name(prod.dtype()));
  NERVE_CHECK(broadcast_shapes(input.shape(), prod.shape(), "baddbmm") == prod.shape(), "baddbmm: input ",
              to_string(input.shape()), " does not broadcast to the product's shape ", to_string(prod.shape()));
  if (alpha != 1.0) prod = prod * alpha;
  return beta == 0.0 ? prod : add(prod, input, beta);
}

// ------------------------------------------------------------------ fused linear
namespace {

const uint16_t* bf16_bits(const Tensor& t) { return static_cast<const uint16_t*>(t.raw_data()); }
uint16_t* bf16_bits_out(const Tensor& t) { return static_cast<uint16_t*>(t.raw_data()); }

// y = x W^T (+ b) (then ReLU) in bf16: f32 accumulation, the bias added and the ReLU applied in f32, one rounding
void linear_forward_bf16(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y, bool relu) {
  const int64_t N = x.shape()[0], in = x.shape()[1], out = w.shape()[0];
  const Tensor b32 = bias.defined() ? bias.to(DType::f32) : Tensor();
  cpu::gemm_bf16(false, true, N, out, in, bf16_bits(x), in, bf16_bits(w), in, bf16_bits_out(y), out,
                 b32.defined() ? b32.data<float>() : nullptr, relu);
}

template <class T>
void linear_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y, bool relu) {
  int64_t N = x.shape()[0], in = x.shape()[1], out = w.shape()[0];
  T* py = y.data<T>();
  if constexpr (std::is_same_v<T, float>) {  // bias and ReLU applied by each tile to its own rows, in cache
    cpu::gemm_ex(false, true, N, out, in, 1.f, x.data<T>(), in, w.data<T>(), in, 0.f, py, out,
                 {.bias = bias.defined() ? bias.data<T>() : nullptr, .relu = relu});
    return;
  }
  if (bias.defined())
    cpu::gemm_bias(false, true, N, out, in, x.data<T>(), in, w.data<T>(), in, bias.data<T>(), py, out);
  else
    cpu::gemm(false, true, N, out, in, T(1), x.data<T>(), in, w.data<T>(), in, T(0), py, out);
  if (relu)
    parallel_for(N * out, kParallelGrain, [&](int64_t b, int64_t e) {
#pragma omp simd
      for (int64_t i = b; i < e; ++i) py[i] = py[i] < T(0) ? T(0) : py[i];  // NaN stays NaN, as torch.relu
    });
}

// The backward of linear and of linear_relu (which also saves its output y: the gradient passes where y > 0).
class LinearBackward : public Node {
 public:
  LinearBackward(const Tensor& x, const Tensor& w, const Tensor& relu_out = Tensor(), float scale = 1.f,
                 float offset = 0.f, uint64_t u8_tag = 0)
      : x_(x), w_(w), relu_(relu_out.defined()), scale_(scale), offset_(offset), u8_tag_(u8_tag) {
    if (relu_) y_ = SavedTensor(relu_out, true);
  }
  const char* name() const override { return relu_ ? "LinearReluBackward" : "LinearBackward"; }
  void release() override {
    x_.reset();
    w_.reset();
    y_.reset();
  }
  std::vector<Tensor> apply(std::vector<Tensor>& grads) override {
    if (grads[0].is_meta() || x_.unpack(this).is_meta() || w_.unpack(this).is_meta()) {  // shapes only
      const Tensor x = x_.unpack(this), w = w_.unpack(this);
      Tensor gx, gw, gb;
      if (next_edges[0].fn) gx = empty(x.shape(), x.dtype(), Device::meta);
      if (next_edges[1].fn) gw = empty(w.shape(), w.dtype(), Device::meta);
      if (next_edges.size() > 2 && next_edges[2].fn) gb = empty({w.shape()[0]}, w.dtype(), Device::meta);
      return {gx, gw, gb};
    }
    Tensor g = grads[0].contiguous();
    if (g.dtype() == DType::bf16) return bf16_grads(g);
    // f32 layer whose input needs no gradient (a first layer; always for linear_u8): each dW tile applies the ReLU
    // mask to its own columns of g and sums them for the bias gradient, so the thread that wrote those outputs in
    // the forward reads them again
    if (g.dtype() == DType::f32 && !next_edges[0].fn) {
      Tensor x = x_.unpack(this), w = w_.unpack(this), y = relu_ ? y_.unpack(this) : Tensor(), gw, gb;
      const int64_t N = x.shape()[0], in = x.shape()[1], out = w.shape()[0];
      const bool want_b = next_edges.size() > 2 && next_edges[2].fn;
      if (want_b) gb = empty({out}, DType::f32, Device::cpu);
      if (next_edges[1].fn) {
        gw = empty(w.shape(), w.dtype(), Device::cpu);
        const cpu::U8Operand u{x.dtype() == DType::u8 ? x.data<uint8_t>() : nullptr, scale_, offset_, u8_tag_};
        cpu::gemm_ex(true, false, out, in, N, 1.f, g.data<float>(), out,
                     x.dtype() == DType::u8 ? nullptr : x.data<float>(), in, 0.f, gw.data<float>(), in,
                     {.b_u8 = x.dtype() == DType::u8 ? &u : nullptr,
                      .a_relu_mask = relu_ ? y.data<float>() : nullptr,
                      .a_row_sums = want_b ? gb.data<float>() : nullptr});
      } else if (want_b) {
        gb = sum(relu_ ? where(gt(y, zeros_like(y)), g, zeros_like(g)) : g, {0});
      }
      return {Tensor(), gw, gb};
    }
    if (relu_) {
      Tensor y = y_.unpack(this), masked = empty(g.shape(), g.dtype(), Device::cpu);
      visit_floating(g.dtype(), name(), [&](auto tag) {
        using T = decltype(tag);
        const T *pg = g.data<T>(), *py = y.data<T>();
        T* pm = masked.data<T>();
        parallel_for(g.numel(), kParallelGrain, [&](int64_t b, int64_t e) {
#pragma omp simd
          for (int64_t i = b; i < e; ++i) pm[i] = py[i] > T(0) ? pg[i] : T(0);
        });
      });
      g = masked;
    }
    Tensor x = x_.unpack(this), w = w_.unpack(this);
    Tensor gx, gw, gb;
    int64_t N = x.shape()[0], in = x.shape()[1], out = w.shape()[0];
    visit_floating(g.dtype(), "linear", [&](auto tag) {
      using T = decltype(tag);
      if (next_edges[0].fn) {  // dx (N, in) = g (N, out) @ W (out, in)
        gx = empty(x.shape(), x.dtype(), Device::cpu);
        cpu::gemm(false, false, N, in, out, T(1), g.data<T>(), out, w.data<T>(), in, T(0), gx.data<T>(), in);
      }
      if (next_edges[1].fn) {  // dW (out, in) = g^T (out, N) @ x (N, in)
        gw = empty(w.shape(), w.dtype(), Device::cpu);
        if (std::is_same_v<T, float> && out >= 4 * in && N >= 256) {
          // a widening layer (GPT's mlp_fc: out 1024, in 256, N 4096): the library runs the transposed product
          // dW^T (in, out) = x^T g at about twice the speed of dW = g^T x (bench_gemm_ceiling: mlp_proj dW, the
          // same product, 33.6 against 17.4 GFLOP/s on 2 threads, 7.4 against 4.6 on 1, both runs under load), so
          // it is computed that way and transposed (out * in copies next to out * in * N multiply-adds). Tiles stay
          // a function of the shape alone, so results do not depend on the thread count.
          Tensor gwt = empty({in, out}, w.dtype(), Device::cpu);
          cpu::gemm(true, false, in, out, N, T(1), x.data<T>(), in, g.data<T>(), out, T(0), gwt.data<T>(), out);
          const T* src = gwt.data<T>();
          T* dst = gw.data<T>();
          parallel_for(out, 16, [&](int64_t b, int64_t e) {
            for (int64_t o = b; o < e; ++o)
              for (int64_t i = 0; i < in; ++i) dst[o * in + i] = src[i * out + o];
          });
        } else {
          cpu::gemm(true, false, out, in, N, T(1), g.data<T>(), out, x.data<T>(), in, T(0), gw.data<T>(), in);
        }
      }
      if (next_edges.size() > 2 && next_edges[2].fn) gb = sum(g, {0});
    });
    return {gx, gw, gb};
  }

 private:
  // bf16: the products in bf16 with f32 accumulation, the bias gradient summed in f32 and rounded once (PyTorch)
  std::vector<Tensor> bf16_grads(Tensor g) {
    const Tensor x = x_.unpack(this), w = w_.unpack(this);
    const int64_t N = x.shape()[0], in = x.shape()[1], out = w.shape()[0];
    if (relu_) {  // the gradient passes where y > 0
      const Tensor y = y_.unpack(this);
      Tensor masked = empty(g.shape(), DType::bf16, Device::cpu);
      const uint16_t *pg = bf16_bits(g), *py = bf16_bits(y);
      uint16_t* pm = bf16_bits_out(masked);
      for (int64_t i = 0; i < g.numel(); ++i)
        pm[i] = std::bit_cast<float>(uint32_t(py[i]) << 16) > 0.f ? pg[i] : uint16_t(0);
      g = masked;
    }
    Tensor gx, gw, gb;
    if (next_edges[0].fn) {  // dx (N, in) = g (N, out) @ W (out, in)
      gx = empty(x.shape(), DType::bf16, Device::cpu);
      cpu::gemm_bf16(false, false, N, in, out, bf16_bits(g), out, bf16_bits(w), in, bf16_bits_out(gx), in);
    }
    if (next_edges[1].fn) {  // dW (out, in) = g^T (out, N) @ x (N, in)
      gw = empty(w.shape(), DType::bf16, Device::cpu);
      cpu::gemm_bf16(true, false, out, in, N, bf16_bits(g), out, bf16_bits(x), in, bf16_bits_out(gw), in);
    }
    if (next_edges.size() > 2 && next_edges[2].fn) gb = sum(g.to(DType::f32), {0}).to(DType::bf16);
    return {gx, gw, gb};
  }

  SavedTensor x_, w_, y_;
  bool relu_;
  float scale_, offset_;  // a uint8 x (linear_u8) is read as scale * x + offset
  uint64_t u8_tag_;       // the forward's conversion of x (unpack() has checked x is unchanged since)
};

// The end of linear, linear_relu and linear_u8: records the backward made by make() when x, w or b needs a
// gradient (an integer x never does), and gives the (N, out) result x_in's leading dims.
template <class MakeNode>
Tensor linear_output(const Tensor& x_in, const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y,
                     const MakeNode& make) {
  if (b.defined() ? any_requires_grad({&x, &w, &b}) : any_requires_grad({&x, &w})) {
    if (b.defined())
      set_history(make(), {&x, &w, &b}, {&y});
    else
      set_history(make(), {&x, &w}, {&y});
  }
  if (x_in.dim() == 2) return y;
  Shape os(x_in.shape().begin(), x_in.shape().end() - 1);
  os.push_back(y.shape()[1]);
  return reshape(y, os);
}

Tensor linear_impl(const Tensor& x_in, const Tensor& weight, const Tensor& bias, bool relu) {
  const char* op = relu ? "linear_relu" : "linear";
  NERVE_RECORD_FUNCTION(op);
  detail::check_arg(x_in, op, "input");
  detail::check_arg(weight, op, "weight");  // bias may be undefined: no bias
  NERVE_CHECK(weight.dim() == 2, "linear: weight must be 2-D (out_features, in_features), got ",
              detail::describe(weight));
  NERVE_CHECK(x_in.dim() >= 1, "linear: input must have at least 1 dim, got a 0-d tensor");
  int64_t in = weight.shape()[1], out = weight.shape()[0];
  NERVE_CHECK(x_in.shape().back() == in, "linear: input last dim ", x_in.shape().back(), " != in_features ", in,
              " (input ", detail::describe(x_in), ", weight ", detail::describe(weight), ")");
  NERVE_CHECK(x_in.dtype() == weight.dtype(), "linear: input dtype ", dtype_name(x_in.dtype()),
              " != weight dtype ", dtype_name(weight.dtype()));
  NERVE_CHECK(is_floating(weight.dtype()) || weight.dtype() == DType::bf16,
              "linear: expected floating tensors (f32, f64 or bf16), got ", dtype_name(weight.dtype()));
  if (bias.defined())
    NERVE_CHECK(bias.dim() == 1 && bias.shape()[0] == out && bias.dtype() == weight.dtype(),
                "linear: bias must be (", out, ") ", dtype_name(weight.dtype()), ", got ", detail::describe(bias));
  Tensor x = x_in.dim() == 2 ? x_in : reshape(x_in, {-1, in});
  x = x.contiguous();
  Tensor w = weight.contiguous(), b = bias.defined() ? bias.contiguous() : bias;
  const bool meta = x.is_meta() || w.is_meta() || (b.defined() && b.is_meta());
  Tensor y = empty({x.shape()[0], out}, x.dtype(), meta ? Device::meta : Device::cpu);
  if (!meta && x.dtype() == DType::bf16)
    linear_forward_bf16(x, w, b, y, relu);
  else if (!meta)
    visit_floating(x.dtype(), "linear", [&](auto tag) { linear_forward<decltype(tag)>(x, w, b, y, relu); });
  return linear_output(x_in, x, w, b, y, [&] { return make_node<LinearBackward>(x, w, relu ? y : Tensor()); });
}

}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) { return linear_impl(x, weight, bias, false); }

Tensor linear_u8(const Tensor& x_in, double scale, double offset, const Tensor& weight, const Tensor& bias,
                 bool relu) {
  NERVE_RECORD_FUNCTION("linear_u8");
  detail::check_arg(x_in, "linear_u8", "input");
  detail::check_arg(weight, "linear_u8", "weight");
  NERVE_CHECK(x_in.dtype() == DType::u8, "linear_u8: input must be uint8, got ", detail::describe(x_in));
  NERVE_CHECK(x_in.dim() >= 1 && weight.dim() == 2 && x_in.shape().back() == weight.shape()[1],
              "linear_u8: expected input (..., in_features) and weight (out_features, in_features), got input ",
              detail::describe(x_in), ", weight ", detail::describe(weight));
  if (weight.dtype() != DType::f32) {  // f64 (gradient checks): the composite, same math
    Tensor xf = x_in.to(weight.dtype()) * scale;
    if (offset != 0.0) xf = xf + offset;
    return relu ? linear_relu(xf, weight, bias) : linear(xf, weight, bias);
  }
  int64_t in = weight.shape()[1], out = weight.shape()[0];
  if (bias.defined())
    NERVE_CHECK(bias.dim() == 1 && bias.shape()[0] == out && bias.dtype() == weight.dtype(),
                "linear_u8: bias must be (", out, ") f32, got ", detail::describe(bias));
  Tensor x = (x_in.dim() == 2 ? x_in : reshape(x_in, {-1, in})).contiguous();
  Tensor w = weight.contiguous(), b = bias.defined() ? bias.contiguous() : bias;
  const int64_t N = x.shape()[0];
  const bool meta = x.is_meta() || w.is_meta() || (b.defined() && b.is_meta());
  Tensor y = empty({N, out}, DType::f32, meta ? Device::meta : Device::cpu);
  if (meta)
    return linear_output(x_in, x, w, b, y, [&] { return make_node<LinearBackward>(x, w, relu ? y : Tensor()); });
  const cpu::U8Operand u{x.data<uint8_t>(), static_cast<float>(scale), static_cast<float>(offset),
                        cpu::new_u8_operand_tag()};
  cpu::gemm_ex(false, true, N, out, in, 1.f, nullptr, in, w.data<float>(), in, 0.f, y.data<float>(), out,
               {.bias = b.defined() ? b.data<float>() : nullptr, .relu = relu, .a_u8 = &u});
  return linear_output(x_in, x, w, b, y, [&] {
    return make_node<LinearBackward>(x, w, relu ? y : Tensor(), u.scale, u.offset, u.tag);
  });
}

Tensor linear_relu(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  return linear_impl(x, weight, bias, true);
}

// ------------------------------------------------------------------ tril / triu
namespace {

// x where a (rows, cols) mask of the triangle holds, else 0: where()'s forward and gradient, broadcast over the batch
Tensor triangle(const Tensor& x, int64_t diagonal, bool lower, const char* op) {
  NERVE_CHECK(x.dim() >= 2, op, ": expected a tensor with at least 2 dims, got ", detail::describe(x));
  const int64_t rows = x.shape()[x.dim() - 2], cols = x.shape()[x.dim() - 1];
  Tensor mask = empty({rows, cols}, DType::b8, Device::cpu);  // from the shape alone: on cpu whatever x's device
  bool* m = mask.data<bool>();
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) m[i * cols + j] = lower ? j - i <= diagonal : j - i >= diagonal;
  return where(mask, x, zeros({}, x.dtype(), x.device()));
}

}  // namespace

Tensor tril(const Tensor& x, int64_t diagonal) {
  NERVE_RECORD_FUNCTION("tril");
  detail::check_arg(x, "tril", "x");
  return triangle(x, diagonal, true, "tril");
}
Tensor triu(const Tensor& x, int64_t diagonal) {
  NERVE_RECORD_FUNCTION("triu");
  detail::check_arg(x, "triu", "x");
  return triangle(x, diagonal, false, "triu");
}

}  // namespace nerve
