// The transformer ops of nerve/ops/attention.h: the fused scaled dot-product attention (its own forward and backward
// kernels, src/backend/cpu/attention_kernels.cpp) and rms_norm (a composition, its gradient from the ops it uses).
#include "nerve/ops/attention.h"

#include <cmath>
#include <limits>

#include "backend/cpu/attention_kernels.h"
#include "nerve/core/profiler.h"
#include "nerve/core/rng.h"
#include "ops/op_util.h"

namespace nerve {

namespace {

constexpr const char* kOp = "scaled_dot_product_attention";

// What the kernels need besides the tensors' data: sizes, the mask's layout, the flags.
struct AttnConfig {
  int64_t BH = 0, L = 0, S = 0, E = 0, Ev = 0;
  Shape batch;                 // the leading dims of q
  std::vector<int64_t> mask_off;
  int64_t mask_sl = 0, mask_ss = 0;
  bool causal = false;
  double dropout_p = 0.0;
  uint64_t seed = 0;
};

// Offsets of each (batch, head) slice's first mask element, and its row and column strides; m is the mask
// expanded (a view, stride 0 where broadcast) to batch + (L, S).
void mask_layout(const Tensor& m, AttnConfig& c) {
  const int64_t nb = static_cast<int64_t>(c.batch.size());
  c.mask_off.assign(static_cast<size_t>(c.BH), 0);
  for (int64_t i = 0; i < c.BH; ++i) {
    int64_t rest = i, off = 0;
    for (int64_t d = nb - 1; d >= 0; --d) {
      off += rest % c.batch[d] * m.strides()[d];
      rest /= c.batch[d];
    }
    c.mask_off[i] = off;
  }
  c.mask_sl = m.strides()[nb];
  c.mask_ss = m.strides()[nb + 1];
}

template <class T>
cpu::AttentionArgs<T> kernel_args(const AttnConfig& c, const Tensor& q, const Tensor& k, const Tensor& v,
                                  const Tensor& mask) {
  cpu::AttentionArgs<T> a;
  a.BH = c.BH, a.L = c.L, a.S = c.S, a.E = c.E, a.Ev = c.Ev;
  a.scale = 1.0 / std::sqrt(static_cast<double>(c.E));
  a.q = q.data<T>(), a.k = k.data<T>(), a.v = v.data<T>();
  if (mask.defined()) {
    if (mask.dtype() == DType::b8) a.bool_mask = static_cast<const bool*>(mask.raw_data());
    else a.add_mask = mask.data<T>();
    a.mask_off = c.mask_off, a.mask_sl = c.mask_sl, a.mask_ss = c.mask_ss;
  }
  a.causal = c.causal;
  a.dropout_p = c.dropout_p;
  a.dropout_seed = c.seed;
  return a;
}

// dq, dk, dv and, for a floating mask that requires grad, its gradient summed back to the mask's own shape.
class AttentionBackward : public Node {
 public:
  AttentionBackward(AttnConfig c, const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask_expanded,
                    const Shape& mask_shape, const Tensor& out, const Tensor& lse)
      : c_(std::move(c)), q_(q), k_(k), v_(v), mask_(mask_expanded), mask_shape_(mask_shape), out_(out, true),
        lse_(lse) {}
  const char* name() const override { return "ScaledDotProductAttentionBackward"; }
  void release() override {
    q_.reset(), k_.reset(), v_.reset(), mask_.reset(), out_.reset(), lse_.reset();
  }
  std::vector<Tensor> apply(std::vector<Tensor>& grads) override {
    const Tensor q = q_.unpack(this), k = k_.unpack(this), v = v_.unpack(this), out = out_.unpack(this);
    const Tensor lse = lse_.unpack(this), mask = mask_.unpack(this);
    const Tensor g = grads[0].contiguous();
    Tensor dq = empty(q.shape(), q.dtype(), g.device()), dk = empty(k.shape(), k.dtype(), g.device());
    Tensor dv = empty(v.shape(), v.dtype(), g.device());
    const bool want_mask = next_edges.size() > 3 && next_edges[3].fn != nullptr;
    Shape full = c_.batch;
    full.push_back(c_.L), full.push_back(c_.S);
    Tensor dm = want_mask ? empty(full, q.dtype(), g.device()) : Tensor();
    if (g.is_meta() || q.is_meta()) return {dq, dk, dv, want_mask ? sum_to(dm, mask_shape_) : Tensor()};
    if (out.numel() == 0 || c_.BH * c_.L == 0) {  // no output elements (Ev or L is 0): every gradient is 0
      dq.zero_(), dk.zero_(), dv.zero_();
      if (want_mask) dm.zero_();
    } else {
      visit_floating(q.dtype(), kOp, [&](auto tag) {
        using T = decltype(tag);
        cpu::attention_backward(kernel_args<T>(c_, q, k, v, mask), out.data<T>(), lse.data<T>(), g.data<T>(),
                                dq.data<T>(), dk.data<T>(), dv.data<T>(), want_mask ? dm.data<T>() : nullptr);
      });
    }
    return {dq, dk, dv, want_mask ? sum_to(dm, mask_shape_) : Tensor()};
  }

 private:
  AttnConfig c_;
  SavedTensor q_, k_, v_, mask_;
  Shape mask_shape_;
  SavedTensor out_, lse_;
};

std::string shapes_of(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& m) {
  std::string s = "q " + detail::describe(q) + ", k " + detail::describe(k) + ", v " + detail::describe(v);
  if (m.defined()) s += ", attn_mask " + detail::describe(m);
  return s;
}

// Checks the operands; returns the mask to use (cast to q's dtype when floating) or undefined.
Tensor check_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, double dropout_p) {
  detail::check_arg(q, kOp, "query");
  detail::check_arg(k, kOp, "key");
  detail::check_arg(v, kOp, "value");
  NERVE_CHECK(is_floating(q.dtype()) && k.dtype() == q.dtype() && v.dtype() == q.dtype(), kOp,
              ": query, key and value must have one floating dtype, got ", shapes_of(q, k, v, mask));
  NERVE_CHECK(q.dim() >= 2 && k.dim() == q.dim() && v.dim() == q.dim(), kOp,
              ": expected q (..., L, E), k (..., S, E), v (..., S, Ev) with the same number of dims (>= 2), got ",
              shapes_of(q, k, v, mask));
  const int64_t n = q.dim();
  const Shape batch(q.shape().begin(), q.shape().end() - 2);
  NERVE_CHECK(Shape(k.shape().begin(), k.shape().end() - 2) == batch &&
                  Shape(v.shape().begin(), v.shape().end() - 2) == batch,
              kOp, ": q, k and v must have the same leading (batch, head) dims, got ", shapes_of(q, k, v, mask));
  NERVE_CHECK(k.shape()[n - 1] == q.shape()[n - 1], kOp, ": q and k must have the same last dim E, got ",
              shapes_of(q, k, v, mask));
  NERVE_CHECK(v.shape()[n - 2] == k.shape()[n - 2], kOp,
              ": k and v must have the same number of keys S (dim -2), got ", shapes_of(q, k, v, mask));
  NERVE_CHECK(q.shape()[n - 1] > 0, kOp, ": the embedding dim E of q and k must be positive, got ",
              shapes_of(q, k, v, mask));
  NERVE_CHECK(dropout_p >= 0.0 && dropout_p <= 1.0, kOp, ": dropout_p must be in [0, 1], got ", dropout_p);
  if (!mask.defined()) return mask;
  NERVE_CHECK(mask.dtype() == DType::b8 || is_floating(mask.dtype()), kOp,
              ": attn_mask must be bool (true = attend) or floating (added to the scores), got ",
              shapes_of(q, k, v, mask));
  Shape want = batch;
  want.push_back(q.shape()[n - 2]), want.push_back(k.shape()[n - 2]);
  bool ok = mask.dim() <= n;
  for (int64_t d = 1; ok && d <= mask.dim(); ++d) {
    const int64_t m = mask.shape()[mask.dim() - d], w = want[n - d];
    ok = m == w || m == 1;
  }
  NERVE_CHECK(ok, kOp, ": attn_mask must broadcast to (..., L, S) = ", to_string(want), ", got ",
              shapes_of(q, k, v, mask));
  return mask.dtype() == DType::b8 || mask.dtype() == q.dtype() ? mask : to_dtype(mask, q.dtype());
}

}  // namespace

Tensor scaled_dot_product_attention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in,
                                    const Tensor& attn_mask, double dropout_p, bool is_causal) {
  NERVE_RECORD_FUNCTION("scaled_dot_product_attention");
  const Tensor mask = check_attention(q_in, k_in, v_in, attn_mask, dropout_p);
  const int64_t n = q_in.dim();
  AttnConfig c;
  c.batch = Shape(q_in.shape().begin(), q_in.shape().end() - 2);
  c.BH = numel(c.batch);
  c.L = q_in.shape()[n - 2], c.S = k_in.shape()[n - 2], c.E = q_in.shape()[n - 1], c.Ev = v_in.shape()[n - 1];
  c.causal = is_causal;
  c.dropout_p = dropout_p;
  if (dropout_p > 0) c.seed = generator()();
  const bool meta = q_in.is_meta() || k_in.is_meta() || v_in.is_meta() || (mask.defined() && mask.is_meta());
  const Tensor q = q_in.contiguous(), k = k_in.contiguous(), v = v_in.contiguous();
  Shape full = c.batch, os = c.batch;
  full.push_back(c.L), full.push_back(c.S);
  os.push_back(c.L), os.push_back(c.Ev);
  Tensor mask_e = mask.defined() ? expand(mask.detach(), full) : Tensor();
  if (mask_e.defined()) mask_layout(mask_e, c);
  const Device dev = meta ? Device::meta : Device::cpu;
  Tensor out = empty(os, q.dtype(), dev);
  Shape ls = c.batch;
  ls.push_back(c.L);
  Tensor lse = empty(ls, q.dtype(), dev);
  if (!meta && out.numel() > 0) {
    visit_floating(q.dtype(), kOp, [&](auto tag) {
      using T = decltype(tag);
      cpu::attention_forward(kernel_args<T>(c, q, k, v, mask_e), out.data<T>(), lse.data<T>());
    });
  }
  const Tensor float_mask = mask.defined() && mask.dtype() != DType::b8 ? mask : Tensor();
  if (any_requires_grad({&q_in, &k_in, &v_in, &float_mask})) {
    if (!meta && out.numel() == 0) lse.fill_(std::numeric_limits<double>::infinity());
    const Shape mask_shape = mask.defined() ? mask.shape() : Shape{};
    set_history(make_node<AttentionBackward>(c, q, k, v, mask_e, mask_shape, out, lse),
                {&q_in, &k_in, &v_in, &float_mask}, {&out});
  }
  return out;
}

Tensor rms_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight, std::optional<double> eps) {
  detail::check_arg(x, "rms_norm", "input");
  NERVE_RECORD_FUNCTION("rms_norm");
  const int64_t k = static_cast<int64_t>(normalized_shape.size());
  NERVE_CHECK(k >= 1 && x.dim() >= k && Shape(x.shape().end() - k, x.shape().end()) == normalized_shape,
              "rms_norm: normalized_shape ", to_string(normalized_shape), " must be the last dims of the input ",
              detail::describe(x));
  NERVE_CHECK(is_floating(x.dtype()), "rms_norm: expected a floating input, got ", detail::describe(x));
  if (weight.defined())
    NERVE_CHECK(weight.shape() == normalized_shape && weight.dtype() == x.dtype(), "rms_norm: weight must be ",
                to_string(normalized_shape), " ", dtype_name(x.dtype()), " for input ", detail::describe(x), ", got ",
                detail::describe(weight));
  const double e = eps ? *eps
                       : (x.dtype() == DType::f32 ? double(std::numeric_limits<float>::epsilon())
                                                   : std::numeric_limits<double>::epsilon());
  NERVE_CHECK(e >= 0 && std::isfinite(e), "rms_norm: eps must be a finite number >= 0, got ", e);
  Shape dims;
  for (int64_t d = x.dim() - k; d < x.dim(); ++d) dims.push_back(d);
  Tensor y = x * rsqrt(mean(x * x, dims, true) + e);
  return weight.defined() ? y * weight : y;
}

}  // namespace nerve
