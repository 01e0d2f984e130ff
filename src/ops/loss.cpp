// Regression and binary losses as one fused pointwise op each (loss and both input gradients in one kernel),
// nll_loss as a composition over gather, and the shared argument checks.
#include <cmath>

#include "backend/cpu/reduce_kernels.h"
#include "ops/loss_util.h"
#include "ops/op_util.h"
#include "nerve/core/profiler.h"

namespace nerve {

const char* reduction_name(Reduction r) {
  switch (r) {
    case Reduction::none: return "none";
    case Reduction::mean: return "mean";
    case Reduction::sum: return "sum";
  }
  return "?";
}

Reduction reduction_from_name(const std::string& name) {
  for (Reduction r : {Reduction::none, Reduction::mean, Reduction::sum})
    if (name == reduction_name(r)) return r;
  NERVE_CHECK(false, "reduction must be 'none', 'mean' or 'sum', got '", name, "'");
  return Reduction::mean;
}

namespace detail {

Tensor reduce_loss(const Tensor& loss, Reduction reduction) {
  switch (reduction) {
    case Reduction::none: return loss;
    case Reduction::sum: return sum(loss);
    case Reduction::mean: return mean(loss);
  }
  return loss;
}

void check_same(const char* op, const Tensor& input, const Tensor& target) {
  NERVE_CHECK(input.defined() && target.defined(), op, ": undefined input or target");
  NERVE_CHECK(is_floating(input.dtype()), op, ": input must be f32 or f64, got input ", detail::describe(input));
  NERVE_CHECK(target.shape() == input.shape(), op, ": target shape ", to_string(target.shape()), " != input shape ",
              to_string(input.shape()), " (input ", detail::describe(input), ", target ",
              detail::describe(target), "); reshape the target to the input's shape");
  NERVE_CHECK(target.dtype() == input.dtype(), op, ": target dtype ", dtype_name(target.dtype()), " != input dtype ",
              dtype_name(input.dtype()), " (input ", detail::describe(input), ", target ",
              detail::describe(target), "); convert with target.to(DType::", dtype_name(input.dtype()), ")");
}

Tensor class_targets(const char* op, const Tensor& input, const Tensor& target, int64_t classes, int64_t ignore_index) {
  NERVE_CHECK(target.dtype() == DType::i64 || target.dtype() == DType::i32, op,
              ": target must hold class indices (i64 or i32), got target ", detail::describe(target),
              " for input ", detail::describe(input));
  Tensor t = target.to(DType::i64).contiguous();
  if (t.is_meta()) return t;  // no values to check
  const int64_t* p = t.data<int64_t>();
  for (int64_t i = 0, n = t.numel(); i < n; ++i)
    NERVE_CHECK(p[i] == ignore_index || (p[i] >= 0 && p[i] < classes), op, ": target ", p[i], " is out of bounds for ",
                classes, " classes (input ", detail::describe(input), ", target ",
                detail::describe(target), "); labels must be in [0, ", classes, ")");
  return t;
}

Tensor class_weight(const char* op, const Tensor& weight, int64_t classes, DType d) {
  if (!weight.defined()) return weight;
  NERVE_CHECK(weight.dim() == 1 && weight.size(0) == classes, op, ": weight must be a 1-D tensor of ", classes,
              " class weights, got ", detail::describe(weight));
  NoGradGuard g;
  return weight.to(d).contiguous();
}

}  // namespace detail

// ------------------------------------------------------------------ fused pointwise losses
namespace {

enum class PointLoss { mse, l1, huber, bce, bce_logits };

// loss l(x, t) and its partials dl/dx, dl/dt (PyTorch's formulas, aten/src/ATen/native/Loss.cpp); the kind is a
// template parameter, so each loss gets its own loop (the mse, l1 and huber loops vectorize)
template <PointLoss K, class T>
struct PointFn {
  T delta;  // huber

  T loss(T x, T t) const {
    if constexpr (K == PointLoss::mse) {
      return (x - t) * (x - t);
    } else if constexpr (K == PointLoss::l1) {
      return std::abs(x - t);
    } else if constexpr (K == PointLoss::huber) {
      T z = std::abs(x - t);
      return z < delta ? T(0.5) * z * z : delta * (z - T(0.5) * delta);
    } else if constexpr (K == PointLoss::bce) {  // logs clamped to >= -100 as PyTorch does
      return (t - T(1)) * std::max(std::log1p(-x), T(-100)) - t * std::max(std::log(x), T(-100));
    } else {  // bce_logits: (1 - t) x + log(1 + exp(-x)), stable for any x
      return std::max(x, T(0)) - x * t + std::log1p(std::exp(-std::abs(x)));
    }
  }

  void grad(T x, T t, T& dx, T& dt) const {
    if constexpr (K == PointLoss::mse) {
      dx = T(2) * (x - t);
      dt = -dx;
    } else if constexpr (K == PointLoss::l1) {
      T d = x - t;
      dx = d > T(0) ? T(1) : d < T(0) ? T(-1) : T(0);
      dt = -dx;
    } else if constexpr (K == PointLoss::huber) {
      T d = x - t;
      dx = d < -delta ? -delta : d > delta ? delta : d;
      dt = -dx;
    } else if constexpr (K == PointLoss::bce) {  // (x - t) / max(x (1 - x), 1e-12f): PyTorch's EPSILON is a float
      dx = (x - t) / std::max((T(1) - x) * x, static_cast<T>(1e-12f));
      dt = std::max(std::log1p(-x), T(-100)) - std::max(std::log(x), T(-100));
    } else {
      dx = T(1) / (T(1) + std::exp(-x)) - t;
      dt = -x;
    }
  }
};

// f(std::integral_constant<PointLoss, kind>)
template <class F>
void visit_point(PointLoss kind, const F& f) {
  using P = PointLoss;
  switch (kind) {
    case P::mse: return f(std::integral_constant<P, P::mse>{});
    case P::l1: return f(std::integral_constant<P, P::l1>{});
    case P::huber: return f(std::integral_constant<P, P::huber>{});
    case P::bce: return f(std::integral_constant<P, P::bce>{});
    case P::bce_logits: return f(std::integral_constant<P, P::bce_logits>{});
  }
}

struct PointSpec {
  const char* op;
  const char* node;
};
constexpr PointSpec kPointSpecs[] = {{"mse_loss", "MseLossBackward"},
                                     {"l1_loss", "L1LossBackward"},
                                     {"huber_loss", "HuberLossBackward"},
                                     {"binary_cross_entropy", "BinaryCrossEntropyBackward"},
                                     {"binary_cross_entropy_with_logits", "BinaryCrossEntropyWithLogitsBackward"}};

class PointLossBackward : public Node {
 public:
  // scale: the output is the loss summed (1) or averaged (1 / n) over the elements; 0 for the elementwise loss
  PointLossBackward(PointLoss kind, double delta, const Tensor& x, const Tensor& t, double scale = 0)
      : kind_(kind), delta_(delta), scale_(scale), x_(x), t_(t) {}
  const char* name() const override { return kPointSpecs[static_cast<int>(kind_)].node; }
  void release() override {
    x_.reset();
    t_.reset();
  }
  std::vector<Tensor> apply(std::vector<Tensor>& grads) override {
    Tensor x = x_.unpack(this), t = t_.unpack(this), g = grads[0];
    // a reduced loss's gradient is one value (times the mean's 1 / n); so is a mean's or a sum's, expanded, when
    // the reduction was a separate op: read it as such instead of materializing it
    const bool g_one = std::all_of(g.strides().begin(), g.strides().end(), [](int64_t st) { return st == 0; });
    if (scale_ != 0) g = g.contiguous() * scale_;
    else if (!g_one) g = g.contiguous();
    bool want_x = next_edges[0].fn != nullptr, want_t = next_edges[1].fn != nullptr;
    const Device dev = detail::result_device(x, t, g);
    Tensor gx = want_x ? empty(x.shape(), x.dtype(), dev) : Tensor();
    Tensor gt = want_t ? empty(x.shape(), x.dtype(), dev) : Tensor();
    if (dev == Device::meta) return {gx, gt};
    visit_floating(x.dtype(), name(), [&](auto tag) {
      using T = decltype(tag);
      visit_point(kind_, [&](auto k) {
        const PointFn<decltype(k)::value, T> f{static_cast<T>(delta_)};
        const T *px = x.data<T>(), *pt = t.data<T>(), *pg = static_cast<const T*>(g.raw_data());
        T* ox = want_x ? gx.data<T>() : nullptr;
        T* ot = want_t ? gt.data<T>() : nullptr;
        const int64_t gs = g_one ? 0 : 1;
        parallel_for(x.numel(), kParallelGrain, [&](int64_t b, int64_t e) {
          auto loop = [&](auto wx, auto wt) {  // one loop per wanted pair: no branch inside
#pragma omp simd
            for (int64_t i = b; i < e; ++i) {
              T dx = 0, dt = 0;
              f.grad(px[i], pt[i], dx, dt);
              if constexpr (decltype(wx)::value) ox[i] = pg[i * gs] * dx;
              if constexpr (decltype(wt)::value) ot[i] = pg[i * gs] * dt;
            }
          };
          if (ox && ot) loop(std::true_type{}, std::true_type{});
          else if (ox) loop(std::true_type{}, std::false_type{});
          else if (ot) loop(std::false_type{}, std::true_type{});
        });
      });
    });
    return {gx, gt};
  }

 private:
  PointLoss kind_;
  double delta_, scale_;
  SavedTensor x_, t_;
};

// per-element loss (input's shape), optionally times a broadcast weight, then reduced
Tensor point_loss(PointLoss kind, const Tensor& input, const Tensor& target, const Tensor& weight, Reduction reduction,
                  double delta = 0.0) {
  NERVE_RECORD_FUNCTION(kPointSpecs[static_cast<int>(kind)].op);
  const char* op = kPointSpecs[static_cast<int>(kind)].op;
  detail::check_same(op, input, target);
  Tensor x = input.contiguous(), t = target.contiguous();
  const Device dev = detail::result_device(x, t);
  if (!weight.defined() && reduction != Reduction::none && x.dtype() == DType::f32 && dev == Device::cpu) {
    // summed in the pass that computes it: the same blocks as sum() (kSumBlock floats, added in double), so the
    // value equals reduce(elementwise loss)
    const int64_t n = x.numel(), nb = (n + cpu::kSumBlock - 1) / cpu::kSumBlock;
    std::vector<double> part(nb);
    visit_point(kind, [&](auto k) {
      const PointFn<decltype(k)::value, float> f{static_cast<float>(delta)};
      const float *px = x.data<float>(), *pt = t.data<float>();
      parallel_for(nb, n >= kParallelGrain ? 1 : nb + 1, [&](int64_t b0, int64_t b1) {
        float buf[cpu::kSumBlock];
        for (int64_t b = b0; b < b1; ++b) {
          const int64_t i0 = b * cpu::kSumBlock, m = std::min(cpu::kSumBlock, n - i0);
#pragma omp simd
          for (int64_t i = 0; i < m; ++i) buf[i] = f.loss(px[i0 + i], pt[i0 + i]);
          part[b] = cpu::sum_f32_serial(buf, m);
        }
      });
    });
    double total = 0;
    for (double v : part) total += v;
    Tensor out = scalar_tensor(static_cast<float>(total), DType::f32, Device::cpu);
    if (reduction == Reduction::mean) out = out * (1.0 / static_cast<double>(n));  // as mean(): sum * (1 / n)
    if (any_requires_grad({&x, &t}))  // (out is a new tensor: the scaling above recorded nothing)
      set_history(make_node<PointLossBackward>(kind, delta, x, t,
                                               reduction == Reduction::mean ? 1.0 / static_cast<double>(n) : 1.0),
                  {&x, &t}, {&out});
    return out;
  }
  Tensor out = empty(x.shape(), x.dtype(), dev);
  if (dev == Device::cpu) visit_floating(x.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    visit_point(kind, [&](auto k) {
      const PointFn<decltype(k)::value, T> f{static_cast<T>(delta)};
      const T *px = x.data<T>(), *pt = t.data<T>();
      T* po = out.data<T>();
      parallel_for(x.numel(), kParallelGrain, [&](int64_t b, int64_t e) {
#pragma omp simd
        for (int64_t i = b; i < e; ++i) po[i] = f.loss(px[i], pt[i]);
      });
    });
  });
  if (any_requires_grad({&x, &t})) set_history(make_node<PointLossBackward>(kind, delta, x, t), {&x, &t}, {&out});
  if (weight.defined()) {
    Shape s = broadcast_shapes(weight.shape(), x.shape(), op);
    NERVE_CHECK(s == x.shape(), op, ": weight ", to_string(weight.shape()), " does not broadcast to input ",
                to_string(x.shape()));
    out = out * weight.to(x.dtype());
  }
  return detail::reduce_loss(out, reduction);
}

// softplus(-x) = log(1 + e^-x), computed stably as log(1 + e^-|x|) + max(-x, 0), with its derivative
// -sigmoid(-x) written out: that composition's own derivative is 0 at x = 0 (abs and relu have 0 there), -1/2 is right
class SoftplusNegBackward : public Node {
 public:
  explicit SoftplusNegBackward(const Tensor& x) : x_(x) {}
  const char* name() const override { return "SoftplusNegBackward"; }
  void release() override { x_.reset(); }
  std::vector<Tensor> apply(std::vector<Tensor>& g) override { return {-(g[0] * sigmoid(-x_.unpack(this)))}; }

 private:
  SavedTensor x_;
};

Tensor softplus_neg(const Tensor& x) {
  Tensor y;
  {
    NoGradGuard g;
    y = log(1.0 + exp(-abs(x))) + relu(-x);
  }
  detail::record<SoftplusNegBackward>({&x}, y, x);
  return y;
}

}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  return point_loss(PointLoss::mse, input, target, Tensor(), reduction);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  return point_loss(PointLoss::l1, input, target, Tensor(), reduction);
}

Tensor huber_loss(const Tensor& input, const Tensor& target, Reduction reduction, double delta) {
  NERVE_CHECK(delta > 0, "huber_loss: delta must be positive, got ", delta);
  return point_loss(PointLoss::huber, input, target, Tensor(), reduction, delta);
}

Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight, Reduction reduction) {
  return point_loss(PointLoss::bce, input, target, weight, reduction);
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target, const Tensor& weight,
                                        Reduction reduction, const Tensor& pos_weight) {
  if (!pos_weight.defined()) return point_loss(PointLoss::bce_logits, input, target, weight, reduction);
  // PyTorch's form with positive-class weights p (broadcast over the last dims):
  //   (1 - t) x + (1 + (p - 1) t) (log(1 + e^-|x|) + max(-x, 0))
  const char* op = "binary_cross_entropy_with_logits";
  detail::check_same(op, input, target);
  auto broadcasts_to = [](const Shape& a, const Shape& to) {  // a expands to `to` without growing it
    if (a.size() > to.size()) return false;
    for (size_t i = 1; i <= a.size(); ++i)
      if (a[a.size() - i] != 1 && a[a.size() - i] != to[to.size() - i]) return false;
    return true;
  };
  NERVE_CHECK(broadcasts_to(pos_weight.shape(), input.shape()), op, ": pos_weight ", to_string(pos_weight.shape()),
              " does not broadcast to input ", to_string(input.shape()), " (give one weight per class: the last dim)");
  Tensor pw = pos_weight.to(input.dtype());
  Tensor log_weight = 1.0 + (pw - 1.0) * target;
  Tensor loss = (1.0 - target) * input + log_weight * softplus_neg(input);
  if (weight.defined()) {
    NERVE_CHECK(broadcasts_to(weight.shape(), input.shape()), op, ": weight ", to_string(weight.shape()),
                " does not broadcast to input ", to_string(input.shape()));
    loss = loss * weight.to(input.dtype());
  }
  return detail::reduce_loss(loss, reduction);
}

// ------------------------------------------------------------------ nll_loss
// loss[n] = -w[t_n] * input[n, t_n], 0 where t_n == ignore_index; 'mean' divides by sum of w[t_n] (PyTorch)
Tensor nll_loss(const Tensor& input, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                Reduction reduction) {
  NERVE_RECORD_FUNCTION("nll_loss");
  NERVE_CHECK(input.defined() && target.defined(), "nll_loss: undefined input or target");
  NERVE_CHECK(is_floating(input.dtype()), "nll_loss: input must be f32 or f64 log-probabilities, got ",
              detail::describe(input));
  NERVE_CHECK(input.dim() >= 1, "nll_loss: input must have at least 1 dim (C), got a 0-d tensor");
  int64_t cdim = input.dim() == 1 ? 0 : 1, C = input.size(cdim);
  Shape tshape = input.shape();
  tshape.erase(tshape.begin() + cdim);
  NERVE_CHECK(target.shape() == tshape, "nll_loss: target shape ", to_string(target.shape()), " does not match input ",
              to_string(input.shape()), "; expected ", to_string(tshape), " (the input's shape without the class dim ",
              cdim, ")");
  Tensor t = detail::class_targets("nll_loss", input, target, C, ignore_index);
  Tensor w = detail::class_weight("nll_loss", weight, C, input.dtype());
  // safe indices (ignored -> 0) and per-target weights (ignored -> 0), computed once without autograd
  const Device dev = t.is_meta() || (w.defined() && w.is_meta()) ? Device::meta : Device::cpu;
  Tensor safe = empty(t.shape(), DType::i64, dev), wt = empty(t.shape(), input.dtype(), dev);
  if (dev == Device::cpu) visit_floating(input.dtype(), "nll_loss", [&](auto tag) {
    using T = decltype(tag);
    const int64_t* pt = t.data<int64_t>();
    const T* pw = w.defined() ? w.data<T>() : nullptr;
    int64_t* ps = safe.data<int64_t>();
    T* pwt = wt.data<T>();
    for (int64_t i = 0, n = t.numel(); i < n; ++i) {
      bool ign = pt[i] == ignore_index;
      ps[i] = ign ? 0 : pt[i];
      pwt[i] = ign ? T(0) : pw ? pw[pt[i]] : T(1);
    }
  });
  Tensor picked = squeeze(gather(input, cdim, unsqueeze(safe, cdim)), cdim);
  Tensor loss = -(picked * wt);
  switch (reduction) {
    case Reduction::none: return loss;
    case Reduction::sum: return sum(loss);
    case Reduction::mean: return sum(loss) / sum(wt);
  }
  return loss;
}

}  // namespace nerve
