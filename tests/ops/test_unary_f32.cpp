// The vectorized f32 exp / log / sqrt / sigmoid / tanh / GELU (backend/cpu/unary_kernels) against the f64 std::
// functions over the whole float range, their special values, and strided vs contiguous layouts.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include <nerve/nerve.h>

#include "backend/cpu/unary_kernels.h"

using namespace nerve;

namespace {

// the kernels over contiguous arrays, and one element through the strided path
void vec(cpu::UnaryOp op, const float* x, float* y, int64_t n) { cpu::unary_forward_f32(op, x, 1, y, 1, n, nullptr); }
float one(cpu::UnaryOp op, float x) {
  float xs[2] = {x, 0.f}, ys[2] = {0.f, 0.f};
  cpu::unary_forward_f32(op, xs, 2, ys, 2, 1, nullptr);
  return ys[0];
}

double ref(cpu::UnaryOp op, double x) {
  switch (op) {
    case cpu::UnaryOp::exp: return std::exp(x);
    case cpu::UnaryOp::sigmoid: return 1 / (1 + std::exp(-x));
    case cpu::UnaryOp::tanh: return std::tanh(x);
    case cpu::UnaryOp::gelu_tanh:
      return 0.5 * x * (1 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
    case cpu::UnaryOp::relu: return x > 0 ? x : 0;
    case cpu::UnaryOp::log: return std::log(x);
    case cpu::UnaryOp::sqrt: return std::sqrt(x);
    case cpu::UnaryOp::gelu: return 0.5 * x * std::erfc(-x / std::sqrt(2.0));
    case cpu::UnaryOp::abs: return std::abs(x);
    default: ADD_FAILURE() << "no reference for op " << int(op);
  }
  return 0;
}

// d/dx GELU in f64: Phi(x) + x phi(x)
double gelu_erf_grad_ref(double x) {
  return 0.5 * std::erfc(-x / std::sqrt(2.0)) + x * std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI);
}

// error relative to the reference, with an absolute floor for results near 0
double err(double got, double want, double floor) { return std::abs(got - want) / std::max(std::abs(want), floor); }

TEST(UnaryF32, MatchesStdOverTheFloatRange) {
  std::vector<float> x;
  for (double v = -120; v <= 120; v += 0.00377) x.push_back(static_cast<float>(v));
  std::vector<float> y(x.size());
  struct Case { cpu::UnaryOp op; double tol, floor; };
  for (Case c : {Case{cpu::UnaryOp::exp, 4e-7, 0}, Case{cpu::UnaryOp::sigmoid, 4e-7, 1e-30},
                 Case{cpu::UnaryOp::tanh, 4e-7, 1e-30}, Case{cpu::UnaryOp::gelu_tanh, 1e-5, 1e-6},
                 Case{cpu::UnaryOp::gelu, 1e-6, 1e-30}}) {
    vec(c.op, x.data(), y.data(), int64_t(x.size()));
    double worst = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double want = ref(c.op, x[i]);
      // strided rows run the same compiled kernel: the same bits
      const float y1 = one(c.op, x[i]);
      ASSERT_TRUE(y1 == y[i] || (y1 != y1 && y[i] != y[i])) << "op " << int(c.op) << " x " << x[i];
      if (c.op == cpu::UnaryOp::exp && want > std::numeric_limits<float>::max()) {
        ASSERT_TRUE(std::isinf(y[i]) && y[i] > 0) << "exp(" << x[i] << ") = " << y[i];
        continue;
      }
      if (c.op == cpu::UnaryOp::exp && want < std::numeric_limits<float>::min()) {  // denormal or 0
        ASSERT_LE(std::abs(y[i] - want), 1.5e-45) << "exp(" << x[i] << ") = " << y[i];
        continue;
      }
      if (c.op == cpu::UnaryOp::sigmoid && want < 1e-30) {
        ASSERT_LE(y[i], 1e-30) << "sigmoid(" << x[i] << ")";
        continue;
      }
      worst = std::max(worst, err(y[i], want, c.floor));
    }
    EXPECT_LT(worst, c.tol) << "op " << int(c.op);
  }
}

// log and sqrt over every binade of the positive floats, denormals included (64 values per binade)
TEST(UnaryF32, LogAndSqrtOverAllBinades) {
  std::vector<float> x;
  for (int e = -149; e <= 127; ++e)
    for (int k = 0; k < 64; ++k) x.push_back(static_cast<float>(std::ldexp(1.0 + k / 64.0 + k * 1e-4, e)));
  x.push_back(1.f), x.push_back(std::nextafter(1.f, 2.f)), x.push_back(std::nextafter(1.f, 0.f));
  std::vector<float> y(x.size());
  for (auto [op, tol] : {std::pair{cpu::UnaryOp::log, 2e-7}, std::pair{cpu::UnaryOp::sqrt, 6e-8}}) {
    vec(op, x.data(), y.data(), int64_t(x.size()));
    double worst = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      if (!std::isfinite(x[i])) continue;
      const double want = ref(op, x[i]);
      // the scalar function (strided rows) agrees to rounding: the vector version contracts to FMA
      ASSERT_LE(err(one(op, x[i]), y[i], 1.2e-7), 2.4e-7) << "op " << int(op) << " x " << x[i];
      // log near 1 is near 0: relative to max(|log x|, ulp(1)) there
      worst = std::max(worst, err(y[i], want, op == cpu::UnaryOp::log ? 1.2e-7 : 0));
    }
    EXPECT_LT(worst, tol) << "op " << int(op);
  }
}

// GELU's derivative (the backward kernel) against f64 over [-30, 30]: absolute error (it crosses 0 at -0.75),
// and relative error in the lower tail, where it decays like x phi(x)
TEST(UnaryF32, GeluErfGradient) {
  std::vector<float> x, g, dx;
  for (double v = -30; v <= 30; v += 0.00311) x.push_back(static_cast<float>(v)), g.push_back(0.75f);
  dx.resize(x.size());
  cpu::unary_backward_f32(cpu::UnaryOp::gelu, g.data(), 1, x.data(), 1, dx.data(), 1, int64_t(x.size()), nullptr);
  std::vector<float> dx0(x.size());
  cpu::unary_backward_f32(cpu::UnaryOp::gelu, g.data(), 0, x.data(), 1, dx0.data(), 1, int64_t(x.size()), nullptr);  // one gradient for all
  double worst_abs = 0, worst_tail = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_EQ(dx[i], dx0[i]) << x[i];
    const double want = 0.75 * gelu_erf_grad_ref(x[i]);
    worst_abs = std::max(worst_abs, std::abs(dx[i] - want));
    if (x[i] < -2 && std::abs(want) > 1e-30) worst_tail = std::max(worst_tail, err(dx[i], want, 0));
  }
  EXPECT_LT(worst_abs, 4e-7);
  EXPECT_LT(worst_tail, 1e-6);
}

// The tanh GELU's derivative kernel (sigmoid form, exp_full) against the f64 tanh formula over [-30, 30], and
// its limits far out (1 for large x, 0 for very negative x; at |x| ~ 1e13 x^3 overflows and, as in PyTorch's
// kernel, 0 * inf gives NaN)
TEST(UnaryF32, GeluTanhGradient) {
  std::vector<float> x, g, dx;
  for (double v = -30; v <= 30; v += 0.00311) x.push_back(static_cast<float>(v)), g.push_back(0.75f);
  x.push_back(1e4f), g.push_back(1.f), x.push_back(-1e4f), g.push_back(1.f);
  dx.resize(x.size());
  cpu::unary_backward_f32(cpu::UnaryOp::gelu_tanh, g.data(), 1, x.data(), 1, dx.data(), 1, int64_t(x.size()), nullptr);
  double worst = 0;
  for (size_t i = 0; i + 2 < x.size(); ++i) {
    const double v = x[i], t = std::tanh(0.7978845608028654 * (v + 0.044715 * v * v * v));
    const double want = 0.75 * ((1 + t) / 2 + v * (1 - t * t) * 0.7978845608028654 * (1 + 3 * 0.044715 * v * v) / 2);
    worst = std::max(worst, std::abs(dx[i] - want));
  }
  EXPECT_LT(worst, 2e-6);  // 1 - t^2 cancels near t = +-1 in f32 (the libm-tanh kernel it replaces did as well)
  EXPECT_EQ(dx[dx.size() - 2], 1.0f);
  EXPECT_EQ(dx[dx.size() - 1], 0.0f);
}

TEST(UnaryF32, SpecialValues) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> x{nan, inf, -inf, 0.f, -0.f, 88.7f, 89.f, -104.f, -87.2f, -100.f, 88.72f};
  std::vector<float> y(x.size());
  vec(cpu::UnaryOp::exp, x.data(), y.data(), int64_t(x.size()));
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_EQ(y[1], inf);
  EXPECT_EQ(y[2], 0.f);
  EXPECT_EQ(y[3], 1.f);
  EXPECT_EQ(y[4], 1.f);
  EXPECT_NEAR(y[5] / std::exp(double(88.7f)), 1, 1e-6);
  EXPECT_EQ(y[6], inf);
  EXPECT_EQ(y[7], 0.f);
  EXPECT_NEAR(y[8] / std::exp(double(-87.2f)), 1, 1e-6);
  EXPECT_NEAR(y[9], std::exp(-100.0), 1.5e-45);  // a denormal
  EXPECT_NEAR(y[10] / std::exp(double(88.72f)), 1, 1e-6);
  vec(cpu::UnaryOp::sigmoid, x.data(), y.data(), 3);
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_EQ(y[1], 1.f);
  EXPECT_EQ(y[2], 0.f);
  vec(cpu::UnaryOp::tanh, x.data(), y.data(), 3);
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_EQ(y[1], 1.f);
  EXPECT_EQ(y[2], -1.f);
  vec(cpu::UnaryOp::log, x.data(), y.data(), 5);  // NaN, inf, -inf, 0, -0
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_EQ(y[1], inf);
  EXPECT_TRUE(std::isnan(y[2]));
  EXPECT_EQ(y[3], -inf);
  EXPECT_EQ(y[4], -inf);
  float neg[2] = {-1.f, -1e-40f}, one = 1.f, lg[2];
  vec(cpu::UnaryOp::log, neg, lg, 2);
  EXPECT_TRUE(std::isnan(lg[0]) && std::isnan(lg[1]));
  vec(cpu::UnaryOp::log, &one, lg, 1);
  EXPECT_EQ(lg[0], 0.f);
  vec(cpu::UnaryOp::sqrt, x.data(), y.data(), 5);
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_EQ(y[1], inf);
  EXPECT_TRUE(std::isnan(y[2]));
  EXPECT_EQ(y[3], 0.f);
  EXPECT_TRUE(y[4] == 0.f && std::signbit(y[4]));  // sqrt(-0) = -0
  vec(cpu::UnaryOp::gelu, x.data(), y.data(), 4);  // as PyTorch: gelu(-inf) is NaN (-inf * 0)
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_EQ(y[1], inf);
  EXPECT_TRUE(std::isnan(y[2]));
  EXPECT_EQ(y[3], 0.f);
  float huge[2] = {-1e30f, 1e30f}, gh[2];
  vec(cpu::UnaryOp::gelu, huge, gh, 2);
  EXPECT_EQ(gh[0], 0.f);
  EXPECT_EQ(gh[1], 1e30f);
  vec(cpu::UnaryOp::abs, x.data(), y.data(), 5);
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_EQ(y[1], inf);
  EXPECT_EQ(y[2], inf);
  EXPECT_FALSE(std::signbit(y[4]));  // abs(-0) = +0, as torch.abs
  vec(cpu::UnaryOp::relu, x.data(), y.data(), 5);  // torch.relu: NaN stays NaN
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_EQ(y[1], inf);
  EXPECT_EQ(y[2], 0.f);
  EXPECT_EQ(y[3], 0.f);
  EXPECT_FALSE(std::signbit(y[4]));  // relu(-0) = +0
  for (DType dt : {DType::f32, DType::f64}) {  // the op, contiguous and strided, both dtypes
    Tensor v = from_vector(std::vector<float>{nan, -1.f, 2.f, nan}, {2, 2}).to(dt);
    for (const Tensor& in : {v, v.t()}) {
      Tensor r = relu(in).to(DType::f32).contiguous();
      const float* d = r.data<float>();
      EXPECT_TRUE(std::isnan(d[0]) && std::isnan(d[3]));
      EXPECT_EQ(d[1] + d[2], 2.f);
    }
  }
}

TEST(UnaryF32, OpsAgreeAcrossLayouts) {
  manual_seed(5);
  Tensor a = randn({37, 53}) * 4;
  Tensor t = a.t();  // strided rows
  for (auto f : {+[](const Tensor& v) { return exp(v); }, +[](const Tensor& v) { return sigmoid(v); },
                 +[](const Tensor& v) { return tanh(v); }, +[](const Tensor& v) { return gelu(v, "tanh"); },
                 +[](const Tensor& v) { return gelu(v); }, +[](const Tensor& v) { return log(v * v + 2.0); },
                 +[](const Tensor& v) { return sqrt(abs(v)); }}) {
    Tensor want = f(t.contiguous());
    Tensor got = f(t);
    EXPECT_LT(max(abs(got - want) / (abs(want) + 1e-6)).item<float>(), 2e-6);
    Tensor d64 = f(t.to(DType::f64));
    EXPECT_LT(max(abs(got.to(DType::f64) - d64) / (abs(d64) + 1e-6)).item<double>(), 2e-6);
  }
}

}  // namespace
