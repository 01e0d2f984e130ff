// The elementwise unary ops, made from their descriptors in include/nerve/core/unary_ops.def: per op a forward
// and a backward loop over its reference formulas (f64, the integer types it keeps, and f32 when it has no f32
// formulas of its own), the public function, and one entry of the op registry. The f32 formulas run in
// src/backend/cpu/unary_kernels.cpp. clamp, whose bounds are optional, is written out at the end.
#include <cmath>
#include <limits>

#include "backend/cpu/elementwise.h"
#include "backend/cpu/unary_kernels.h"
#include "nerve/core/profiler.h"
#include "nerve/core/param_macros.h"
#include "nerve/ops/registry.h"
#include "ops/op_util.h"
#include "ops/registry_impl.h"

namespace nerve {

namespace {

using cpu::UnaryOp;
using cpu::gelu_tanh_grad;

struct UnaryParams {
  double v[2] = {0, 0};
};

// Row functions: y[i * sy] = f(x[i * sx]) and dx[i * sdx] = f'(d[i * sd], s[i * ss]) over one row (strides in
// elements). Each op gets one per dtype it accepts, and one row walker (walk_rows below) serves them all: small code
// per op, no per-op instantiation of the loop machinery.
using FwdRow = void (*)(const char* x, int64_t sx, char* y, int64_t sy, int64_t n, const double* p);
using BwdRow = void (*)(const char* d, int64_t sd, const char* s, int64_t ss, char* dx, int64_t sdx, int64_t n,
                        const double* p);

// The reference formulas of each op, for element type T
#define NERVE_UNARY_FAST(name, params, ints, domain, saves, fwd, bwd, ...) \
  NERVE_UNARY(name, params, ints, domain, saves, fwd, bwd)
#define NERVE_UNARY_HIDDEN NERVE_UNARY_FAST
#define NERVE_UNARY(name, params, ints, domain, saves, fwd, bwd)                                         \
  template <class T>                                                                                     \
  void name##_fwd_row(const char* xp, int64_t sx, char* yp, int64_t sy, int64_t n, const double* p) {    \
    NERVE_BIND(T, params)                                                                                \
    const T* xs = reinterpret_cast<const T*>(xp);                                                        \
    T* ys = reinterpret_cast<T*>(yp);                                                                    \
    for (int64_t i = 0; i < n; ++i) {                                                                    \
      const T x = xs[i * sx];                                                                            \
      ys[i * sy] = static_cast<T>(fwd);                                                                  \
    }                                                                                                    \
  }                                                                                                      \
  template <class T>                                                                                     \
  void name##_bwd_row(const char* dp, int64_t sd, const char* sp, int64_t ss, char* op, int64_t so,      \
                      int64_t n, const double* p) {                                                      \
    NERVE_BIND(T, params)                                                                                \
    const T *ds = reinterpret_cast<const T*>(dp), *svals = reinterpret_cast<const T*>(sp);               \
    T* os = reinterpret_cast<T*>(op);                                                                    \
    for (int64_t i = 0; i < n; ++i) {                                                                    \
      [[maybe_unused]] const T d = ds[i * sd], saves = svals[i * ss];                                                     \
      os[i * so] = static_cast<T>(bwd);                                                                  \
    }                                                                                                    \
  }
#include "nerve/core/unary_ops.def"
#undef NERVE_UNARY
#undef NERVE_UNARY_FAST
#undef NERVE_UNARY_HIDDEN

// The f32 rows of the ops with f32 formulas go to their vectorized kernels
#define NERVE_UNARY(name, ...)
#define NERVE_UNARY_FAST(name, ...)                                                                        \
  void name##_fwd_f32(const char* x, int64_t sx, char* y, int64_t sy, int64_t n, const double* p) {        \
    const float pf[2] = {static_cast<float>(p[0]), static_cast<float>(p[1])};                             \
    cpu::unary_forward_f32(UnaryOp::name, reinterpret_cast<const float*>(x), sx, reinterpret_cast<float*>(y), sy, n, pf); \
  }                                                                                                        \
  void name##_bwd_f32(const char* d, int64_t sd, const char* s, int64_t ss, char* dx, int64_t sdx, int64_t n, \
                      const double* p) {                                                                   \
    const float pf[2] = {static_cast<float>(p[0]), static_cast<float>(p[1])};                             \
    cpu::unary_backward_f32(UnaryOp::name, reinterpret_cast<const float*>(d), sd,                          \
                            reinterpret_cast<const float*>(s), ss, reinterpret_cast<float*>(dx), sdx, n, pf); \
  }
#define NERVE_UNARY_HIDDEN NERVE_UNARY_FAST
#include "nerve/core/unary_ops.def"
#undef NERVE_UNARY
#undef NERVE_UNARY_FAST
#undef NERVE_UNARY_HIDDEN

constexpr bool kKeep_keep = true, kKeep_float = false;
constexpr bool kSavesY_x = false, kSavesY_y = true;
constexpr Domain kDomain_real = Domain::real, kDomain_nonzero = Domain::nonzero, kDomain_positive = Domain::positive;
constexpr int kNumDtypes = 6;  // the compute dtypes, in DType order: f32, f64, i64, i32, u8, bool

/// One op of the table, as the runtime sees it: its row functions by dtype (null: not accepted).
struct UnaryDef {
  const char* name;
  bool keep_ints, saves_y, hidden;
  Domain domain;
  std::vector<std::pair<std::string, double>> params;
  FwdRow fwd[kNumDtypes];
  BwdRow bwd_f32, bwd_f64;
};

#define NERVE_INT_ROWS_keep(name) name##_fwd_row<int64_t>, name##_fwd_row<int32_t>, name##_fwd_row<uint8_t>
#define NERVE_INT_ROWS_float(name) nullptr, nullptr, nullptr
#define NERVE_UNARY_ENTRY(name, params, ints, domain, saves, hidden, f32_fwd, f32_bwd)                       \
  UnaryDef{#name, kKeep_##ints, kSavesY_##saves, hidden, kDomain_##domain, {NERVE_PARAM_INFO(params)},     \
           {f32_fwd, name##_fwd_row<double>, NERVE_INT_ROWS_##ints(name), nullptr}, f32_bwd,                \
           name##_bwd_row<double>},
#define NERVE_UNARY(name, params, ints, domain, saves, ...) \
  NERVE_UNARY_ENTRY(name, params, ints, domain, saves, false, name##_fwd_row<float>, name##_bwd_row<float>)
#define NERVE_UNARY_FAST(name, params, ints, domain, saves, ...) \
  NERVE_UNARY_ENTRY(name, params, ints, domain, saves, false, name##_fwd_f32, name##_bwd_f32)
#define NERVE_UNARY_HIDDEN(name, params, ints, domain, saves, ...) \
  NERVE_UNARY_ENTRY(name, params, ints, domain, saves, true, name##_fwd_f32, name##_bwd_f32)
const UnaryDef kDefs[] = {
#include "nerve/core/unary_ops.def"
};
#undef NERVE_UNARY
#undef NERVE_UNARY_FAST
#undef NERVE_UNARY_HIDDEN
#undef NERVE_UNARY_ENTRY
#undef NERVE_INT_ROWS_keep
#undef NERVE_INT_ROWS_float

// out = f(x) / dx = f'(d, s) over tensors of one shape, row by row (threads split the rows or the one long row)
void walk_rows(FwdRow row, const Tensor& out, const Tensor& x, const double* p) {
  const int64_t es = static_cast<int64_t>(itemsize(x.dtype()));
  cpu::for_each_row<2>(out.shape(), {&out.strides(), &x.strides()},
                       {static_cast<char*>(out.raw_data()), static_cast<char*>(x.raw_data())}, {es, es},
                       [&](cpu::BytePtrs2 ptr, int64_t n, std::array<int64_t, 2> st) {
                         row(ptr[1], st[1], ptr[0], st[0], n, p);
                       });
}
void walk_rows(BwdRow row, const Tensor& out, const Tensor& g, const Tensor& s, const double* p) {
  const int64_t es = static_cast<int64_t>(itemsize(g.dtype()));
  cpu::for_each_row<3>(out.shape(), {&out.strides(), &g.strides(), &s.strides()},
                       {static_cast<char*>(out.raw_data()), static_cast<char*>(g.raw_data()),
                        static_cast<char*>(s.raw_data())},
                       {es, es, es}, [&](cpu::BytePtrs3 ptr, int64_t n, std::array<int64_t, 3> st) {
                         row(ptr[1], st[1], ptr[2], st[2], ptr[0], st[0], n, p);
                       });
}

const UnaryDef& def_of(UnaryOp op) { return kDefs[static_cast<int>(op)]; }

// "leaky_relu" -> "LeakyReluBackward", as PyTorch names its nodes
std::string node_name(const char* op) {
  std::string s;
  bool up = true;
  for (const char* c = op; *c; ++c) {
    if (*c == '_') { up = true; continue; }
    s += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(*c))) : *c;
    up = false;
  }
  return s + "Backward";
}

class UnaryBackward : public Node {
 public:
  UnaryBackward(UnaryOp op, UnaryParams p, const Tensor& saved)
      : op_(op), p_(p), saved_(saved, def_of(op).saves_y) {}
  const char* name() const override {
    static const std::vector<std::string> names = [] {
      std::vector<std::string> v;
      for (const UnaryDef& d : kDefs) v.push_back(node_name(d.name));
      return v;
    }();
    return names[static_cast<size_t>(op_)].c_str();
  }
  void release() override { saved_.reset(); }
  std::vector<Tensor> apply(std::vector<Tensor>& grads) override {
    const Tensor& g = grads[0];
    Tensor s = saved_.unpack(this);
    Tensor out = empty(g.shape(), g.dtype(), detail::result_device(g, s));
    const UnaryDef& def = def_of(op_);
    NERVE_CHECK(is_floating(g.dtype()), name(), ": expected a floating gradient, got ", dtype_name(g.dtype()));
    if (!out.is_meta()) walk_rows(g.dtype() == DType::f32 ? def.bwd_f32 : def.bwd_f64, out, g, s, p_.v);
    return {out};
  }

 private:
  UnaryOp op_;
  UnaryParams p_;
  SavedTensor saved_;
};

Tensor run_unary(UnaryOp op, const Tensor& x_in, UnaryParams p) {
  const UnaryDef& def = def_of(op);
  NERVE_RECORD_FUNCTION(def.name);
  detail::check_arg(x_in, def.name, "x");
  NERVE_CHECK(x_in.dtype() != DType::b8, def.name, ": not supported on bool tensors");
  NERVE_CHECK(!is_storage_only(x_in.dtype()), def.name, ": ", dtype_name(x_in.dtype()),
              " tensors are storage only in this version; convert with .to(DType::f32) first");
  Tensor x = is_floating(x_in.dtype()) || def.keep_ints ? x_in : x_in.to(DType::f32);
  Tensor out = empty(x.shape(), x.dtype(), x.device());
  if (!out.is_meta()) walk_rows(def.fwd[static_cast<int>(x.dtype())], out, x, p.v);
  if (any_requires_grad({&x})) set_history(make_node<UnaryBackward>(op, p, def.saves_y ? out : x), {&x}, {&out});
  return out;
}

}  // namespace

// The public functions of the table
#define NERVE_UNARY(name, params, ...)                                 \
  Tensor name(const Tensor& x NERVE_PARAM_DEF(params)) {               \
    return run_unary(UnaryOp::name, x, UnaryParams{{NERVE_PARAM_ARGS(params)}}); \
  }
#define NERVE_UNARY_FAST NERVE_UNARY
#define NERVE_UNARY_HIDDEN(...)
#include "nerve/core/unary_ops.def"
#undef NERVE_UNARY
#undef NERVE_UNARY_FAST
#undef NERVE_UNARY_HIDDEN

Tensor gelu(const Tensor& x, const std::string& approximate) {
  detail::check_arg(x, "gelu", "x");
  NERVE_CHECK(approximate == "none" || approximate == "tanh", "gelu: approximate must be 'none' or 'tanh', got '",
              approximate, "'");
  return approximate == "tanh" ? run_unary(UnaryOp::gelu_tanh, x, {}) : gelu(x);
}

// ---------------------------------------------------------------- clamp (optional bounds)
namespace {

struct ClampBounds {
  double lo = 0, hi = 0;
  bool has_lo = false, has_hi = false;
};

class ClampBackward : public Node {
 public:
  ClampBackward(ClampBounds b, const Tensor& x) : b_(b), x_(x) {}
  const char* name() const override { return "ClampBackward"; }
  void release() override { x_.reset(); }
  std::vector<Tensor> apply(std::vector<Tensor>& grads) override {
    const Tensor& g = grads[0];
    Tensor x = x_.unpack(this), out = empty(g.shape(), g.dtype(), detail::result_device(g, x));
    visit_floating(g.dtype(), name(), [&](auto tag) {
      using T = decltype(tag);
      const T lo = static_cast<T>(b_.lo), hi = static_cast<T>(b_.hi);
      const bool hl = b_.has_lo, hh = b_.has_hi;
      // torch: d * (x >= min) * (x <= max), so a NaN x gets no gradient
      cpu::binary_kernel<T, T, T>(out, g, x, [=](T d, T v) { return (!hl || v >= lo) && (!hh || v <= hi) ? d : T(0); });
    });
    return {out};
  }

 private:
  ClampBounds b_;
  SavedTensor x_;
};

}  // namespace

Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi) {
  NERVE_RECORD_FUNCTION("clamp");
  detail::check_arg(x, "clamp", "x");
  NERVE_CHECK(x.defined(), "clamp: undefined tensor argument");
  NERVE_CHECK(lo || hi, "clamp: at least one of min and max must be given");
  NERVE_CHECK(x.dtype() != DType::b8, "clamp: not supported on bool tensors");
  ClampBounds b{lo.value_or(0), hi.value_or(0), lo.has_value(), hi.has_value()};
  Tensor out = empty(x.shape(), x.dtype(), x.device());
  if (out.is_meta()) {
    // shapes only
  } else if (x.dtype() == DType::f32) {
    const float inf = std::numeric_limits<float>::infinity();
    const float l = b.has_lo ? static_cast<float>(b.lo) : -inf, h = b.has_hi ? static_cast<float>(b.hi) : inf;
    cpu::for_each_row<2>(out.shape(), {&out.strides(), &x.strides()},
                         {static_cast<char*>(out.raw_data()), static_cast<char*>(x.raw_data())}, {4, 4},
                         [&](cpu::BytePtrs2 ptr, int64_t n, std::array<int64_t, 2> st) {
                           float* o = reinterpret_cast<float*>(ptr[0]);
                           const float* a = reinterpret_cast<const float*>(ptr[1]);
                           if (st[0] == 1 && st[1] == 1) return cpu::clamp_f32(a, o, n, l, h);
                           for (int64_t i = 0; i < n; ++i) o[i * st[0]] = cpu::clamp_one(a[i * st[1]], l, h);
                         });
  } else {
    visit_dtype(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if constexpr (!std::is_same_v<T, bool> && !std::is_same_v<T, float>) {
        const T l = static_cast<T>(b.lo), h = static_cast<T>(b.hi);
        const bool hl = b.has_lo, hh = b.has_hi;
        cpu::unary_kernel<T, T>(out, x, [=](T v) {
          if (v != v) return v;
          if (hl && v < l) v = l;
          if (hh && v > h) v = h;
          return v;
        });
      }
    });
  }
  if (any_requires_grad({&x})) set_history(make_node<ClampBackward>(b, x), {&x}, {&out});
  return out;
}

// ---------------------------------------------------------------- registry entries
namespace {

// Per op of the table: its registry call, reading the parameters by name (default when absent).
UnaryParams params_from(UnaryOp op, const Attrs& a) {
  UnaryParams p;
  const auto& names = def_of(op).params;
  for (size_t k = 0; k < names.size(); ++k) p.v[k] = a.d(names[k].first, names[k].second);
  return p;
}
#define NERVE_UNARY(name, ...)                                                               \
  std::vector<Tensor> name##_call(const std::vector<Tensor>& in, const Attrs& a) {           \
    return {run_unary(UnaryOp::name, in.at(0), params_from(UnaryOp::name, a))};              \
  }
#define NERVE_UNARY_FAST NERVE_UNARY
#define NERVE_UNARY_HIDDEN NERVE_UNARY
#include "nerve/core/unary_ops.def"
#undef NERVE_UNARY
#undef NERVE_UNARY_FAST
#undef NERVE_UNARY_HIDDEN

}  // namespace

void register_unary_ops(std::vector<OpInfo>& ops) {
  static constexpr OpInfo::Fn kCalls[] = {
#define NERVE_UNARY(name, ...) name##_call,
#define NERVE_UNARY_FAST NERVE_UNARY
#define NERVE_UNARY_HIDDEN NERVE_UNARY
#include "nerve/core/unary_ops.def"
#undef NERVE_UNARY
#undef NERVE_UNARY_FAST
#undef NERVE_UNARY_HIDDEN
  };
  for (const UnaryDef& def : kDefs) {
    if (def.hidden) continue;
    OpInfo info;
    info.name = def.name;
    info.group = "unary";
    info.from_table = true;
    info.domain = def.domain;
    info.params = def.params;
    info.call = kCalls[&def - kDefs];
    ops.push_back(std::move(info));
  }
  // gelu also takes approximate="tanh"
  for (OpInfo& info : ops)
    if (info.name == "gelu")
      info.call = [](const std::vector<Tensor>& in, const Attrs& a) -> std::vector<Tensor> {
        return {a.has("approximate") ? gelu(in.at(0), a.s("approximate")) : gelu(in.at(0))};
      };
  OpInfo c;
  c.name = "clamp";
  c.group = "unary";
  c.call = [](const std::vector<Tensor>& in, const Attrs& a) -> std::vector<Tensor> {
    return {clamp(in.at(0), a.opt("min"), a.opt("max"))};
  };
  ops.push_back(std::move(c));
}

}  // namespace nerve
