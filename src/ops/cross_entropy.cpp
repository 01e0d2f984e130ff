// cross_entropy as one fused op: log-softmax + nll (+ label smoothing, class weights, ignore_index) in a single
// forward pass over the logits and a single backward pass, never materializing log-probabilities.
// Formula (PyTorch's cross_entropy, aten/src/ATen/native/LossNLL.cpp), per row n with target t, lse_n =
// logsumexp(x_n), logp_c = x_c - lse_n, eps = label_smoothing:
//   loss_n = (1 - eps) * (-w_t logp_t) + eps / C * (-sum_c w_c logp_c)
//   'mean' divides sum_n loss_n by sum_n w_{t_n} over rows not ignored.
//   d loss_n / d x_j = (1 - eps) w_t (p_j - [j == t]) + eps / C (p_j sum_c w_c - w_j),  p = softmax(x_n)
#include <cmath>
#include <limits>
#include <type_traits>

#include "backend/cpu/softmax_kernels.h"
#include "ops/loss_util.h"
#include "ops/op_util.h"
#include "nerve/core/profiler.h"

namespace nerve {

namespace {

struct CeParams {
  int64_t ignore_index;
  double smoothing;
  Reduction reduction;
};

// x: (R, C) logits; t: (R) targets; w: (C) or null; lse: (R) out; loss: (R) out; wrow: (R) out (weight of the
// row's target, 0 when ignored)
template <class T>
void ce_forward(const T* x, const int64_t* t, const T* w, int64_t R, int64_t C, const CeParams& p, T* lse, T* loss,
                T* wrow) {
  const T eps = static_cast<T>(p.smoothing), keep = T(1) - eps, share = eps / static_cast<T>(C);
  parallel_for(R, R * C >= kParallelGrain ? 1 : R + 1, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const T* xr = x + r * C;
      T l;
      if constexpr (std::is_same_v<T, float>) {
        l = cpu::logsumexp_row(xr, C);
      } else {
        T m = -std::numeric_limits<T>::infinity();
        for (int64_t c = 0; c < C; ++c) m = xr[c] > m || xr[c] != xr[c] ? xr[c] : m;
        if (std::isinf(m) && m < 0) m = 0;
        T s = 0;
        for (int64_t c = 0; c < C; ++c) s += std::exp(xr[c] - m);
        l = m + std::log(s);
      }
      lse[r] = l;
      int64_t tr = t[r];
      if (tr == p.ignore_index) {
        loss[r] = wrow[r] = T(0);
        continue;
      }
      T wt = w ? w[tr] : T(1);
      T li = -wt * (xr[tr] - l);
      if (eps != T(0)) {
        T sm = 0;
        for (int64_t c = 0; c < C; ++c) sm -= (w ? w[c] : T(1)) * (xr[c] - l);
        li = keep * li + share * sm;
      }
      loss[r] = li;
      wrow[r] = wt;
    }
  });
}

// dx (R, C) = a_r * d loss_r / d x, with a_r the upstream gradient of row r (already divided by W for 'mean')
template <class T>
void ce_backward(const T* x, const int64_t* t, const T* w, const T* lse, const T* g, bool per_row, T g0, int64_t R,
                 int64_t C, const CeParams& p, T* dx) {
  const T eps = static_cast<T>(p.smoothing), keep = T(1) - eps, share = eps / static_cast<T>(C);
  T wsum = static_cast<T>(C);
  if (w) {
    wsum = 0;
    for (int64_t c = 0; c < C; ++c) wsum += w[c];
  }
  parallel_for(R, R * C >= kParallelGrain ? 1 : R + 1, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const T* xr = x + r * C;
      T* dr = dx + r * C;
      int64_t tr = t[r];
      if (tr == p.ignore_index) {
        for (int64_t c = 0; c < C; ++c) dr[c] = T(0);
        continue;
      }
      T a = per_row ? g[r] : g0;
      T wt = w ? w[tr] : T(1);
      T cp = a * (keep * wt + share * wsum);  // coefficient of p_j
      const T l = lse[r];
      if constexpr (std::is_same_v<T, float>) {
        if (!w) {
          cpu::softmax_row(xr, C, l, cp, a * share, dr);
          dr[tr] -= a * keep * wt;
          continue;
        }
      }
      for (int64_t c = 0; c < C; ++c) dr[c] = cp * std::exp(xr[c] - l) - a * share * (w ? w[c] : T(1));
      dr[tr] -= a * keep * wt;
    }
  });
}

class CrossEntropyBackward : public Node {
 public:
  CrossEntropyBackward(const Tensor& x, Tensor t, Tensor w, Tensor lse, CeParams p, double total_weight)
      : x_(x), t_(std::move(t)), w_(std::move(w)), lse_(std::move(lse)), p_(p), total_weight_(total_weight) {}
  const char* name() const override { return "CrossEntropyLossBackward"; }
  void release() override {
    x_.reset();
    t_ = w_ = lse_ = Tensor();
  }
  std::vector<Tensor> apply(std::vector<Tensor>& grads) override {
    Tensor x = x_.unpack(this), g = grads[0].contiguous();
    int64_t R = x.size(0), C = x.size(1);
    const bool meta = x.is_meta() || g.is_meta() || t_.is_meta() || (w_.defined() && w_.is_meta());
    Tensor dx = empty(x.shape(), x.dtype(), meta ? Device::meta : Device::cpu);
    if (meta) return {dx};
    bool per_row = p_.reduction == Reduction::none;
    visit_floating(x.dtype(), name(), [&](auto tag) {
      using T = decltype(tag);
      T g0 = per_row ? T(0) : g.data<T>()[0];
      if (p_.reduction == Reduction::mean) g0 = static_cast<T>(static_cast<double>(g0) / total_weight_);
      ce_backward<T>(x.data<T>(), t_.data<int64_t>(), w_.defined() ? w_.data<T>() : nullptr, lse_.data<T>(),
                     g.data<T>(), per_row, g0, R, C, p_, dx.data<T>());
    });
    return {dx};
  }

 private:
  SavedTensor x_;
  Tensor t_, w_, lse_;  // private copies (targets, weight) and the op's own row statistics
  CeParams p_;
  double total_weight_;
};

// x: (R, C) contiguous logits, t: (R) i64 checked targets, w: (C) contiguous or undefined
Tensor cross_entropy_2d(const Tensor& x, const Tensor& t, const Tensor& w, const CeParams& p) {
  int64_t R = x.size(0), C = x.size(1);
  if (x.is_meta() || t.is_meta() || (w.defined() && w.is_meta())) {  // shapes only
    Tensor out = empty(p.reduction == Reduction::none ? Shape{R} : Shape{}, x.dtype(), Device::meta);
    if (any_requires_grad({&x}))
      set_history(make_node<CrossEntropyBackward>(x, t, w, Tensor(), p, 1.0), {&x}, {&out});
    return out;
  }
  Tensor lse = empty({R}, x.dtype(), Device::cpu), loss = empty({R}, x.dtype(), Device::cpu),
         wrow = empty({R}, x.dtype(), Device::cpu);
  double total_weight = 0, total = 0;
  visit_floating(x.dtype(), "cross_entropy", [&](auto tag) {
    using T = decltype(tag);
    ce_forward<T>(x.data<T>(), t.data<int64_t>(), w.defined() ? w.data<T>() : nullptr, R, C, p, lse.data<T>(),
                  loss.data<T>(), wrow.data<T>());
    for (int64_t r = 0; r < R; ++r) {
      total += static_cast<double>(loss.data<T>()[r]);
      total_weight += static_cast<double>(wrow.data<T>()[r]);
    }
  });
  Tensor out = p.reduction == Reduction::none  ? loss
               : p.reduction == Reduction::sum ? scalar_tensor(total, x.dtype(), Device::cpu)
                                               : scalar_tensor(total / total_weight, x.dtype(), Device::cpu);
  if (any_requires_grad({&x}))
    set_history(make_node<CrossEntropyBackward>(x, t.clone(), w, lse, p, total_weight), {&x}, {&out});
  return out;
}

// soft targets (class probabilities, input's shape): -sum_c w_c t'_c logp_c, t' = (1 - eps) t + eps / C
Tensor cross_entropy_probs(const Tensor& input, const Tensor& target, const Tensor& weight, Reduction reduction,
                           double label_smoothing, int64_t cdim) {
  detail::check_same("cross_entropy", input, target);
  int64_t C = input.size(cdim);
  Tensor logp = log_softmax(input, cdim);
  Tensor tgt = label_smoothing > 0 ? target * (1.0 - label_smoothing) + label_smoothing / C : target;
  Tensor prod = logp * tgt;
  Tensor w = detail::class_weight("cross_entropy", weight, C, input.dtype());
  if (w.defined()) {
    Shape ws(static_cast<size_t>(input.dim()), 1);
    ws[static_cast<size_t>(cdim)] = C;
    prod = prod * reshape(w, ws);
  }
  Tensor loss = -sum(prod, {cdim});
  switch (reduction) {
    case Reduction::none: return loss;
    case Reduction::sum: return sum(loss);
    case Reduction::mean: return mean(loss);  // PyTorch divides by the number of rows (input.numel() / C)
  }
  return loss;
}

}  // namespace

Tensor cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                     Reduction reduction, double label_smoothing) {
  NERVE_RECORD_FUNCTION("cross_entropy");
  NERVE_CHECK(input.defined() && target.defined(), "cross_entropy: undefined input or target");
  NERVE_CHECK(is_floating(input.dtype()), "cross_entropy: input must be f32 or f64 logits, got ",
              detail::describe(input));
  NERVE_CHECK(input.dim() >= 1, "cross_entropy: input must have at least 1 dim (C), got a 0-d tensor");
  NERVE_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0,
              "cross_entropy: label_smoothing must be between 0.0 and 1.0, got ", label_smoothing);
  int64_t cdim = input.dim() == 1 ? 0 : 1, C = input.size(cdim);
  Shape tshape = input.shape();
  tshape.erase(tshape.begin() + cdim);
  // floating labels of the class-index shape: the dtype is the mistake, not the shape
  NERVE_CHECK(!is_floating(target.dtype()) || target.shape() == input.shape() || target.shape() != tshape,
              "cross_entropy: target is ", nerve::detail::describe(target), ": class indices must be an integer "
              "tensor (i64), not ", dtype_name(target.dtype()), "; convert with target.to(DType::i64) (a floating "
              "target is read as class probabilities of the input's shape ", to_string(input.shape()), ")");
  if (is_floating(target.dtype())) return cross_entropy_probs(input, target, weight, reduction, label_smoothing, cdim);
  NERVE_CHECK(target.shape() == tshape, "cross_entropy: target shape ", to_string(target.shape()),
              " does not match input ", to_string(input.shape()), "; expected class indices of shape ",
              to_string(tshape), " (the input's shape without the class dim ", cdim,
              "), or class probabilities of shape ", to_string(input.shape()));
  Tensor t = detail::class_targets("cross_entropy", input, target, C, ignore_index);
  Tensor w = detail::class_weight("cross_entropy", weight, C, input.dtype());
  // to rows: (C) -> (1, C); (N, C, d1, ...) -> (N * d1 * ..., C) with the class dim moved last
  Tensor x2;
  if (input.dim() == 1)
    x2 = reshape(input, {1, C});
  else if (input.dim() == 2)
    x2 = input;
  else {
    Shape perm{0};
    for (int64_t d = 2; d < input.dim(); ++d) perm.push_back(d);
    perm.push_back(1);
    x2 = reshape(permute(input, perm), {-1, C});
  }
  Tensor out = cross_entropy_2d(x2.contiguous(), reshape(t, {-1}), w, {ignore_index, label_smoothing, reduction});
  return reduction == Reduction::none ? reshape(out, tshape) : out;
}

}  // namespace nerve::nn
