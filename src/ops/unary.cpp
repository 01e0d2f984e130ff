// Unary math and activations. Forward is one kernel; backward is one fused kernel over (grad, saved),
// where `saved` is the input or the output, whichever the derivative needs.
#include <cmath>
#include <limits>

#include "backend/cpu/elementwise.h"
#include "backend/cpu/unary_kernels.h"
#include "ops/op_util.h"
#include "nerve/core/profiler.h"

namespace nerve {

namespace {

enum class UnOp { neg, exp, log, sqrt, abs, relu, leaky_relu, sigmoid, tanh, gelu, clamp, gelu_tanh };

struct UnSpec {
  const char* name;
  bool saves_output;  // derivative written in terms of y = f(x) rather than x
};
constexpr UnSpec kSpecs[] = {
    {"NegBackward", false},  {"ExpBackward", true},       {"LogBackward", false},
    {"SqrtBackward", true},  {"AbsBackward", false},      {"ReluBackward", true},
    {"LeakyReluBackward", false}, {"SigmoidBackward", true}, {"TanhBackward", true},
    {"GeluBackward", false}, {"ClampBackward", false},   {"GeluBackward", false},
};

struct Params {
  double p0 = 0, p1 = 0;  // leaky slope, or clamp bounds
  bool has_lo = false, has_hi = false;
};

template <class T>
T gelu_f(T x) {
  return static_cast<T>(0.5) * x * (T(1) + std::erf(x * static_cast<T>(M_SQRT1_2)));
}

// PyTorch's approximate='tanh': 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
constexpr double kSqrt2OverPi = 0.7978845608028654, kGeluCubic = 0.044715;
template <class T>
T gelu_tanh_f(T x) {
  return static_cast<T>(0.5) * x * (T(1) + std::tanh(static_cast<T>(kSqrt2OverPi) * (x + static_cast<T>(kGeluCubic) * x * x * x)));
}

// f32 rows: contiguous ones through a vectorized kernel contig(x, y, n), strided ones element by element through
// one(x), the same function (every layout gives the same values)
template <class Contig, class One>
void f32_rows(const Tensor& out, const Tensor& x, const Contig& contig, const One& one) {
  cpu::for_each_row<2>(out.shape(), {&out.strides(), &x.strides()},
                       {static_cast<char*>(out.raw_data()), static_cast<char*>(x.raw_data())}, {4, 4},
                       [&](cpu::BytePtrs2 p, int64_t n, std::array<int64_t, 2> st) {
                         float* o = reinterpret_cast<float*>(p[0]);
                         const float* a = reinterpret_cast<const float*>(p[1]);
                         if (st[0] == 1 && st[1] == 1) return contig(a, o, n);
                         for (int64_t i = 0; i < n; ++i) o[i * st[0]] = one(a[i * st[1]]);
                       });
}

// f32 exp / log / sqrt / sigmoid / tanh / GELU / ReLU through cpu::vec_unary_f32
void vec_forward_f32(cpu::VecUnary op, const Tensor& out, const Tensor& x) {
  f32_rows(out, x, [op](const float* a, float* o, int64_t n) { cpu::vec_unary_f32(op, a, o, n); },
           [op](float v) { return cpu::vec_unary_one(op, v); });
}

// f64 and the integer types (abs, neg, relu, clamp): loops over the op's scalar definition
template <class T>
void forward_generic(UnOp op, const Params& p, const Tensor& out, const Tensor& x) {
  using cpu::unary_kernel;
  const T lo = static_cast<T>(p.p0), hi = static_cast<T>(p.p1);
  switch (op) {
    case UnOp::neg: unary_kernel<T, T>(out, x, [](T v) { return -v; }); break;
    case UnOp::exp:
      if constexpr (std::is_floating_point_v<T>)  // (integer tensors reach only neg, abs, relu and clamp)
        unary_kernel<T, T>(out, x, [](T v) { return std::exp(v); });
      break;
    case UnOp::log:
      if constexpr (std::is_floating_point_v<T>) unary_kernel<T, T>(out, x, [](T v) { return std::log(v); });
      break;
    case UnOp::sqrt:
      if constexpr (std::is_floating_point_v<T>) unary_kernel<T, T>(out, x, [](T v) { return std::sqrt(v); });
      break;
    case UnOp::abs:
      unary_kernel<T, T>(out, x, [](T v) {
        if constexpr (std::is_floating_point_v<T>) return std::abs(v);  // abs(-0) = +0, as torch.abs
        else return v < T(0) ? -v : v;
      });
      break;
    case UnOp::relu: unary_kernel<T, T>(out, x, [](T v) { return v > T(0) ? v : v != v ? v : T(0); }); break;
    case UnOp::leaky_relu:
      if constexpr (std::is_floating_point_v<T>) unary_kernel<T, T>(out, x, [lo](T v) { return v > T(0) ? v : v * lo; });
      break;
    case UnOp::sigmoid:
      if constexpr (std::is_floating_point_v<T>) unary_kernel<T, T>(out, x, [](T v) { return T(1) / (T(1) + std::exp(-v)); });
      break;
    case UnOp::tanh:
      if constexpr (std::is_floating_point_v<T>) unary_kernel<T, T>(out, x, [](T v) { return std::tanh(v); });
      break;
    case UnOp::gelu:
      if constexpr (std::is_floating_point_v<T>) unary_kernel<T, T>(out, x, [](T v) { return gelu_f(v); });
      break;
    case UnOp::gelu_tanh:
      if constexpr (std::is_floating_point_v<T>) unary_kernel<T, T>(out, x, [](T v) { return gelu_tanh_f(v); });
      break;
    case UnOp::clamp: {
      bool hl = p.has_lo, hh = p.has_hi;
      unary_kernel<T, T>(out, x, [=](T v) {
        if (v != v) return v;
        if (hl && v < lo) v = lo;
        if (hh && v > hi) v = hi;
        return v;
      });
      break;
    }
  }
}

template <class T>
void forward(UnOp op, const Params& p, const Tensor& out, const Tensor& x) {
  if constexpr (std::is_same_v<T, float>) {  // every f32 op has a kernel: no generic loops are instantiated for f32
    switch (op) {
      case UnOp::exp: return vec_forward_f32(cpu::VecUnary::exp, out, x);
      case UnOp::sigmoid: return vec_forward_f32(cpu::VecUnary::sigmoid, out, x);
      case UnOp::tanh: return vec_forward_f32(cpu::VecUnary::tanh, out, x);
      case UnOp::gelu_tanh: return vec_forward_f32(cpu::VecUnary::gelu_tanh, out, x);
      case UnOp::relu: return vec_forward_f32(cpu::VecUnary::relu, out, x);
      case UnOp::log: return vec_forward_f32(cpu::VecUnary::log, out, x);
      case UnOp::sqrt: return vec_forward_f32(cpu::VecUnary::sqrt, out, x);
      case UnOp::gelu: return vec_forward_f32(cpu::VecUnary::gelu_erf, out, x);
      case UnOp::abs: return vec_forward_f32(cpu::VecUnary::abs, out, x);
      case UnOp::clamp: {
        const float inf = std::numeric_limits<float>::infinity();
        const float lo = p.has_lo ? static_cast<float>(p.p0) : -inf, hi = p.has_hi ? static_cast<float>(p.p1) : inf;
        return f32_rows(out, x, [=](const float* a, float* o, int64_t n) { cpu::clamp_f32(a, o, n, lo, hi); },
                        [=](float v) { return cpu::clamp_one(v, lo, hi); });
      }
      case UnOp::leaky_relu: {
        const float slope = static_cast<float>(p.p0);
        return f32_rows(out, x, [=](const float* a, float* o, int64_t n) { cpu::leaky_relu_f32(a, o, n, slope); },
                        [=](float v) { return cpu::leaky_relu_one(v, slope); });
      }
      case UnOp::neg: return cpu::unary_kernel<T, T>(out, x, [](T v) { return -v; });
      default: NERVE_ASSERT(false, "unary: f32 op ", int(op), " has no kernel");
    }
  } else {
    forward_generic<T>(op, p, out, x);
  }
}

// grad_in = g * f'(x), with s = x or y as kSpecs says
// f32 GELU backward: contiguous rows through the vectorized kernel, strided ones through the same function
void gelu_erf_backward_f32(const Tensor& out, const Tensor& g, const Tensor& x) {
  cpu::for_each_row<3>(out.shape(), {&out.strides(), &g.strides(), &x.strides()},
                       {static_cast<char*>(out.raw_data()), static_cast<char*>(g.raw_data()),
                        static_cast<char*>(x.raw_data())},
                       {4, 4, 4}, [&](cpu::BytePtrs3 p, int64_t n, std::array<int64_t, 3> st) {
                         float* o = reinterpret_cast<float*>(p[0]);
                         const float *d = reinterpret_cast<const float*>(p[1]), *a = reinterpret_cast<const float*>(p[2]);
                         if (st[0] == 1 && st[2] == 1 && (st[1] == 1 || st[1] == 0))
                           return cpu::gelu_erf_backward_f32(d, st[1], a, o, n);
                         for (int64_t i = 0; i < n; ++i) o[i * st[0]] = d[i * st[1]] * cpu::gelu_erf_grad(a[i * st[2]]);
                       });
}

template <class T>
void backward(UnOp op, const Params& p, const Tensor& out, const Tensor& g, const Tensor& s) {
  using cpu::binary_kernel;
  if constexpr (std::is_same_v<T, float>)
    if (op == UnOp::gelu) return gelu_erf_backward_f32(out, g, s);
  const T lo = static_cast<T>(p.p0), hi = static_cast<T>(p.p1);
  switch (op) {
    case UnOp::neg: cpu::unary_kernel<T, T>(out, g, [](T v) { return -v; }); break;
    case UnOp::exp: binary_kernel<T, T, T>(out, g, s, [](T d, T y) { return d * y; }); break;
    case UnOp::log: binary_kernel<T, T, T>(out, g, s, [](T d, T x) { return d / x; }); break;
    case UnOp::sqrt: binary_kernel<T, T, T>(out, g, s, [](T d, T y) { return d / (T(2) * y); }); break;
    case UnOp::abs:
      binary_kernel<T, T, T>(out, g, s, [](T d, T x) { return x > T(0) ? d : x < T(0) ? -d : T(0); });
      break;
    case UnOp::relu: binary_kernel<T, T, T>(out, g, s, [](T d, T y) { return y > T(0) ? d : T(0); }); break;
    case UnOp::leaky_relu: binary_kernel<T, T, T>(out, g, s, [lo](T d, T x) { return x > T(0) ? d : d * lo; }); break;
    case UnOp::sigmoid: binary_kernel<T, T, T>(out, g, s, [](T d, T y) { return d * y * (T(1) - y); }); break;
    case UnOp::tanh: binary_kernel<T, T, T>(out, g, s, [](T d, T y) { return d * (T(1) - y * y); }); break;
    case UnOp::gelu:
      // d/dx x*Phi(x) = Phi(x) + x*phi(x)
      binary_kernel<T, T, T>(out, g, s, [](T d, T x) {
        T cdf = static_cast<T>(0.5) * (T(1) + std::erf(x * static_cast<T>(M_SQRT1_2)));
        T pdf = std::exp(static_cast<T>(-0.5) * x * x) * static_cast<T>(0.3989422804014327);
        return d * (cdf + x * pdf);
      });
      break;
    case UnOp::clamp: {
      bool hl = p.has_lo, hh = p.has_hi;
      binary_kernel<T, T, T>(out, g, s, [=](T d, T x) { return (hl && x < lo) || (hh && x > hi) ? T(0) : d; });
      break;
    }
    case UnOp::gelu_tanh:
      // d/dx 0.5 x (1 + t) = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 c x^2),  t = tanh(sqrt(2/pi) (x + c x^3))
      binary_kernel<T, T, T>(out, g, s, [](T d, T x) {
        const T k = static_cast<T>(kSqrt2OverPi), c = static_cast<T>(kGeluCubic);
        T t = std::tanh(k * (x + c * x * x * x));
        return d * (static_cast<T>(0.5) * (T(1) + t) +
                    static_cast<T>(0.5) * x * (T(1) - t * t) * k * (T(1) + T(3) * c * x * x));
      });
      break;
  }
}

class UnaryBackward : public Node {
 public:
  UnaryBackward(UnOp op, Params p, const Tensor& saved) : op_(op), p_(p), saved_(saved, kSpecs[int(op)].saves_output) {}
  const char* name() const override { return kSpecs[static_cast<int>(op_)].name; }
  void release() override { saved_.reset(); }
  std::vector<Tensor> apply(std::vector<Tensor>& grads) override {
    const Tensor& g = grads[0];
    Tensor s = op_ == UnOp::neg ? g : saved_.unpack(this);
    Tensor out = empty(g.shape(), g.dtype());
    visit_floating(g.dtype(), name(), [&](auto tag) { backward<decltype(tag)>(op_, p_, out, g, s); });
    return {out};
  }

 private:
  UnOp op_;
  Params p_;
  SavedTensor saved_;
};

Tensor unary(UnOp op, const char* name, const Tensor& x_in, Params p = {}) {
  NERVE_RECORD_FUNCTION(name);
  NERVE_CHECK(x_in.defined(), name, ": undefined tensor argument");
  Tensor x = x_in;
  bool int_ok = op == UnOp::neg || op == UnOp::abs || op == UnOp::relu || op == UnOp::clamp;
  if (!is_floating(x.dtype()) && !int_ok) x = x.to(DType::f32);
  NERVE_CHECK(x.dtype() != DType::b8, name, ": not supported on bool tensors");
  Tensor out = empty(x.shape(), x.dtype());
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same_v<T, bool>) forward<T>(op, p, out, x);  // bool was rejected above
  });
  if (any_requires_grad({&x})) {
    const Tensor& saved = kSpecs[static_cast<int>(op)].saves_output ? out : x;
    auto node = make_node<UnaryBackward>(op, p, op == UnOp::neg ? Tensor() : saved);
    set_history(node, {&x}, {&out});
  }
  return out;
}

}  // namespace

Tensor neg(const Tensor& x) { return unary(UnOp::neg, "neg", x); }
Tensor exp(const Tensor& x) { return unary(UnOp::exp, "exp", x); }
Tensor log(const Tensor& x) { return unary(UnOp::log, "log", x); }
Tensor sqrt(const Tensor& x) { return unary(UnOp::sqrt, "sqrt", x); }
Tensor abs(const Tensor& x) { return unary(UnOp::abs, "abs", x); }
Tensor relu(const Tensor& x) { return unary(UnOp::relu, "relu", x); }
Tensor leaky_relu(const Tensor& x, double slope) { return unary(UnOp::leaky_relu, "leaky_relu", x, {slope}); }
Tensor sigmoid(const Tensor& x) { return unary(UnOp::sigmoid, "sigmoid", x); }
Tensor tanh(const Tensor& x) { return unary(UnOp::tanh, "tanh", x); }
Tensor gelu(const Tensor& x) { return unary(UnOp::gelu, "gelu", x); }
Tensor gelu(const Tensor& x, const std::string& approximate) {
  NERVE_CHECK(approximate == "none" || approximate == "tanh", "gelu: approximate must be 'none' or 'tanh', got '",
              approximate, "'");
  return approximate == "tanh" ? unary(UnOp::gelu_tanh, "gelu", x) : gelu(x);
}
Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi) {
  NERVE_CHECK(lo || hi, "clamp: at least one of min and max must be given");
  Params p{lo.value_or(0), hi.value_or(0), lo.has_value(), hi.has_value()};
  return unary(UnOp::clamp, "clamp", x, p);
}

}  // namespace nerve
