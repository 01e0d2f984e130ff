// The vectorized / parallel f32 paths of the ops: sum (all, leading dims, trailing dims), max/min/amax/argmax,
// softmax / log_softmax (forward and backward), clamp, leaky_relu, the binary arithmetic rows, index_select and
// pow's common exponents, against f64 computations or plain loops; sums are the same for any number of threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <nerve/nerve.h>

#include "threads_guard.h"

using namespace nerve;

namespace {

using nerve::testing::ThreadsGuard;

double max_rel(const Tensor& got, const Tensor& want, double floor) {
  Tensor g = got.to(DType::f64), w = want.to(DType::f64);
  return max(abs(g - w) / (abs(w) + floor)).item<double>();
}

// the largest error relative to the largest value (for results that cancel: log_softmax near 0, gradients)
double max_err_of_max(const Tensor& got, const Tensor& want) {
  Tensor g = got.to(DType::f64), w = want.to(DType::f64);
  return max(abs(g - w)).item<double>() / max(abs(w)).item<double>();
}

TEST(ReduceF32, SumOfEverythingIsAccurateAndThreadIndependent) {
  manual_seed(3);
  // 300k values of mixed sign and magnitude (blocks, threads and a tail that is not a whole block)
  Tensor x = randn({300001}) * exp(randn({300001}) * 3);
  const double want = sum(x.to(DType::f64)).item<double>();
  float first = 0;
  for (int threads : {1, 2, 3}) {
    ThreadsGuard g(threads);
    const float got = sum(x).item<float>();
    if (threads == 1) first = got;
    EXPECT_EQ(got, first) << threads << " threads";
    EXPECT_LT(std::abs(got - want), 1e-6 * sum(abs(x.to(DType::f64))).item<double>()) << threads << " threads";
  }
  // mean goes through the same sum
  EXPECT_NEAR(mean(x).item<float>(), want / 300001, 1e-6 * mean(abs(x.to(DType::f64))).item<double>());
}

// Each output within the rounding-error bound of float summation, n 2^-24 sum|x| (Higham, "Accuracy and Stability
// of Numerical Algorithms", 4.2), of the f64 sum: a dropped or repeated term is off by ~|x|, far outside it.
TEST(ReduceF32, SumOverLeadingAndTrailingDims) {
  manual_seed(4);
  for (Shape s : {Shape{2000, 37}, Shape{500, 300}, Shape{3, 40000}, Shape{7, 5, 64}}) {
    Tensor x = randn(s), x64 = x.to(DType::f64);
    for (Shape dims : {Shape{0}, Shape{-1}, Shape{}}) {
      const double n = static_cast<double>(x.numel() / sum(x64, dims).numel());
      Tensor bound = sum(abs(x64), dims) * (n * 0x1p-24);
      for (int threads : {1, 2}) {
        ThreadsGuard g(threads);
        Tensor err = abs(sum(x, dims).to(DType::f64) - sum(x64, dims));
        EXPECT_EQ(sum(gt(err, bound)).item<int64_t>(), 0) << to_string(s) << " dims " << to_string(dims);
        EXPECT_LT(max_rel(sum(x, dims), sum(x64, dims), 1.0), 1e-4) << to_string(s) << " dims " << to_string(dims);
      }
    }
  }
}

TEST(ReduceF32, SoftmaxAndLogSoftmaxForwardAndBackward) {
  manual_seed(6);
  for (Shape s : {Shape{64, 1000}, Shape{5, 3}, Shape{3, 17, 33}}) {
    Tensor x = randn(s) * 6;
    for (int64_t dim : {int64_t{-1}, int64_t{0}}) {
      for (bool log : {false, true}) {
        auto f = [&](const Tensor& v) { return log ? log_softmax(v, dim) : softmax(v, dim); };
        Tensor a = x.detach().requires_grad_(true), b = x.to(DType::f64).requires_grad_(true);
        Tensor w = randn(s);  // an arbitrary upstream gradient
        Tensor ya = f(a), yb = f(b);
        // (f32 rounds x - lse, an error of |x - lse| ulp in e^(x - lse): ~3e-6 at 40 nats down)
        if (log)
          EXPECT_LT(max_err_of_max(ya, yb), 1e-6) << to_string(s) << " dim " << dim;
        else
          EXPECT_LT(max_rel(ya, yb, 1e-30), 1e-5) << to_string(s) << " dim " << dim;
        sum(ya * w).backward();
        sum(yb * w.to(DType::f64)).backward();
        EXPECT_LT(max_err_of_max(a.grad(), b.grad()), 1e-5) << to_string(s) << " dim " << dim << " log " << log;
      }
    }
  }
}

// rows with NaN, all -inf, or +inf: NaN where the f64 path (the plain loops) gives NaN, equal elsewhere
TEST(ReduceF32, SoftmaxSpecialRows) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::nanf("");
  Tensor x = from_vector(std::vector<float>{1, nan, 2, 0, -inf, -inf, -inf, -inf, inf, 1, 2, 3, 1, 2, -inf, 40},
                         {4, 4});
  for (bool log : {false, true}) {
    std::vector<float> a = (log ? log_softmax(x, 1) : softmax(x, 1)).to_vector<float>();
    std::vector<double> b = (log ? log_softmax(x.to(DType::f64), 1) : softmax(x.to(DType::f64), 1)).to_vector<double>();
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(std::isnan(a[i]), std::isnan(b[i])) << i << " log " << log;
      if (!std::isnan(b[i]) && std::isfinite(b[i])) {
        EXPECT_NEAR(a[i], b[i], 1e-6 * (1 + std::abs(b[i]))) << i;
      }
      if (std::isinf(b[i])) {
        EXPECT_EQ(a[i], b[i]) << i;
      }
    }
  }
}

// max / min / amax: the vectorized f32 paths (everything, leading dims, trailing dims; parallel sizes) equal the
// f64 path exactly, and a NaN anywhere in a reduced slice gives NaN there (torch.max)
TEST(ReduceF32, MaxMinAmaxWithNaN) {
  manual_seed(9);
  for (Shape s : {Shape{300001}, Shape{1000, 70}, Shape{70, 1000}, Shape{5, 4, 33}}) {
    Tensor x = randn(s);
    for (bool with_nan : {false, true}) {
      if (with_nan) {  // one NaN in the middle of the data
        Tensor flat = x.reshape({-1});
        flat.narrow(0, flat.numel() / 2, 1).fill_(std::nan(""));
      }
      Tensor x64 = x.to(DType::f64);
      auto same = [](const Tensor& a, const Tensor& b) {  // equal, NaN where NaN
        if (a.shape() != b.shape()) return false;
        std::vector<double> u = a.to(DType::f64).contiguous().to_vector<double>(), w = b.contiguous().to_vector<double>();
        for (size_t i = 0; i < u.size(); ++i)
          if (!(u[i] == w[i] || (std::isnan(u[i]) && std::isnan(w[i])))) return false;
        return true;
      };
      EXPECT_TRUE(same(max(x), max(x64))) << to_string(s) << " nan " << with_nan;
      EXPECT_TRUE(same(min(x), min(x64))) << to_string(s) << " nan " << with_nan;
      EXPECT_EQ(std::isnan(max(x).item<float>()), with_nan);
      for (Shape dims : {Shape{0}, Shape{-1}}) {
        for (int threads : {1, 2}) {
          ThreadsGuard g(threads);
          EXPECT_TRUE(same(amax(x, dims), amax(x64, dims))) << to_string(s) << " dims " << to_string(dims);
          // values and first positions along one dim (the f64 path is the plain loop)
          for (bool is_max : {true, false}) {
            auto [v32, i32] = is_max ? max(x, dims[0]) : min(x, dims[0]);
            auto [v64, i64] = is_max ? max(x64, dims[0]) : min(x64, dims[0]);
            EXPECT_TRUE(same(v32, v64)) << to_string(s) << " dim " << dims[0] << " max " << is_max;
            EXPECT_EQ(i32.to_vector<int64_t>(), i64.to_vector<int64_t>()) << to_string(s) << " dim " << dims[0];
          }
        }
      }
    }
  }
}

// argmax / argmin take the first of equal extremes, and the first NaN
TEST(ReduceF32, ArgmaxTiesAndNaN) {
  const float nan = std::nanf("");
  Tensor t = from_vector(std::vector<float>{1, 3, 3, 2, -1, -1, 0, 5, 2, nan, 7, nan}, {3, 4});
  EXPECT_EQ(argmax(t, 1).to_vector<int64_t>(), (std::vector<int64_t>{1, 3, 1}));
  EXPECT_EQ(argmin(t, 1).to_vector<int64_t>(), (std::vector<int64_t>{0, 0, 1}));
}

// clamp and leaky_relu through the vectorized kernels, contiguous and strided, against plain loops
TEST(ReduceF32, ClampAndLeakyRelu) {
  manual_seed(10);
  Tensor x = randn({37, 41}) * 3;
  x.reshape({-1}).narrow(0, 7, 1).fill_(std::nan(""));
  for (const Tensor& in : {x, x.t()}) {
    std::vector<float> v = in.contiguous().to_vector<float>();
    auto check = [&](const Tensor& got, auto f, const char* what) {
      std::vector<float> g = got.contiguous().to_vector<float>();
      int bad = 0;
      for (size_t i = 0; i < v.size(); ++i) {
        const float w = f(v[i]);
        bad += !(g[i] == w || (std::isnan(g[i]) && std::isnan(w)));
      }
      EXPECT_EQ(bad, 0) << what;
    };
    check(clamp(in, -1.0, 2.0), [](float a) { return a != a ? a : std::min(std::max(a, -1.f), 2.f); }, "clamp");
    check(clamp(in, 0.5, std::nullopt), [](float a) { return a != a ? a : std::max(a, 0.5f); }, "clamp min");
    check(clamp(in, std::nullopt, -0.5), [](float a) { return a != a ? a : std::min(a, -0.5f); }, "clamp max");
    check(clamp(in, 3.0, 1.0), [](float a) { return a != a ? a : 1.f; }, "clamp min > max");  // as torch: max
    check(leaky_relu(in, 0.1), [](float a) { return a > 0 ? a : a * 0.1f; }, "leaky_relu");
  }
}

// f32 add/sub(alpha)/mul/div/maximum/minimum through the vectorized rows (contiguous, tensor-scalar, scalar-tensor,
// broadcast rows and columns) and the strided fallback give exactly a plain loop's values; NaN wins max/min
TEST(ReduceF32, BinaryOpsEqualAPlainLoop) {
  manual_seed(12);
  Tensor x = randn({37, 41}), y = randn({37, 41}) + 3.0, row = randn({41}) + 3.0, col = randn({37, 1}) + 3.0;
  x.reshape({-1}).narrow(0, 5, 1).fill_(std::nan(""));
  y.reshape({-1}).narrow(0, 9, 1).fill_(std::nan(""));
  Tensor one = scalar_tensor(1.75, DType::f32);
  struct Op {
    const char* name;
    Tensor (*f)(const Tensor&, const Tensor&);
    float (*g)(float, float);
  };
  const Op ops[] = {
      {"add", [](const Tensor& a, const Tensor& b) { return add(a, b); }, [](float a, float b) { return a + b; }},
      {"add alpha", [](const Tensor& a, const Tensor& b) { return add(a, b, 0.3); },
       [](float a, float b) { return a + 0.3f * b; }},
      {"sub alpha", [](const Tensor& a, const Tensor& b) { return sub(a, b, -2.5); },
       [](float a, float b) { return a - -2.5f * b; }},
      {"mul", [](const Tensor& a, const Tensor& b) { return mul(a, b); }, [](float a, float b) { return a * b; }},
      {"div", [](const Tensor& a, const Tensor& b) { return div(a, b); }, [](float a, float b) { return a / b; }},
      {"maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); },
       [](float a, float b) { return a != a || b != b ? std::nanf("") : std::max(a, b); }},
      {"minimum", [](const Tensor& a, const Tensor& b) { return minimum(a, b); },
       [](float a, float b) { return a != a || b != b ? std::nanf("") : std::min(a, b); }},
  };
  for (const Op& op : ops) {
    for (auto [a, b] : {std::pair{x, y}, std::pair{x, one}, std::pair{one, y}, std::pair{x, row}, std::pair{row, x},
                        std::pair{x, col}, std::pair{x.t(), y.t()}, std::pair{x.t(), one}}) {
      Shape s = broadcast_shapes(a.shape(), b.shape(), "test");
      std::vector<float> av = expand(a, s).contiguous().to_vector<float>(), bv = expand(b, s).contiguous().to_vector<float>();
      std::vector<float> got = op.f(a, b).contiguous().to_vector<float>();
      int bad = 0;
      for (size_t i = 0; i < got.size(); ++i) {
        const float w = op.g(av[i], bv[i]);
        bad += !(got[i] == w || (std::isnan(got[i]) && std::isnan(w)));
      }
      EXPECT_EQ(bad, 0) << op.name << " " << to_string(a.shape()) << " " << to_string(b.shape());
    }
  }
}

// eq/ne/lt/le/gt/ge on f32 (vectorized rows) against the C++ comparison, NaN and equal values included
TEST(ReduceF32, ComparisonsEqualAPlainLoop) {
  manual_seed(13);
  Tensor x = randn({37, 41}), y = randn({37, 41}), row = randn({41}), col = randn({37, 1});
  x.narrow(1, 0, 10).copy_(y.narrow(1, 0, 10));  // equal pairs
  x.reshape({-1}).narrow(0, 50, 1).fill_(std::nan(""));
  y.reshape({-1}).narrow(0, 90, 1).fill_(std::nan(""));
  row.narrow(0, 3, 1).fill_(std::nan(""));
  Tensor one = scalar_tensor(0.25, DType::f32);
  x.reshape({-1}).narrow(0, 7, 3).fill_(0.25);
  struct Op {
    const char* name;
    Tensor (*f)(const Tensor&, const Tensor&);
    bool (*g)(float, float);
  };
  const Op ops[] = {
      {"eq", [](const Tensor& a, const Tensor& b) { return eq(a, b); }, [](float a, float b) { return a == b; }},
      {"ne", [](const Tensor& a, const Tensor& b) { return ne(a, b); }, [](float a, float b) { return a != b; }},
      {"lt", [](const Tensor& a, const Tensor& b) { return lt(a, b); }, [](float a, float b) { return a < b; }},
      {"le", [](const Tensor& a, const Tensor& b) { return le(a, b); }, [](float a, float b) { return a <= b; }},
      {"gt", [](const Tensor& a, const Tensor& b) { return gt(a, b); }, [](float a, float b) { return a > b; }},
      {"ge", [](const Tensor& a, const Tensor& b) { return ge(a, b); }, [](float a, float b) { return a >= b; }},
  };
  for (const Op& op : ops) {
    for (auto [a, b] : {std::pair{x, y}, std::pair{x, one}, std::pair{one, y}, std::pair{x, row}, std::pair{row, x},
                        std::pair{x, col}, std::pair{x.t(), y.t()}, std::pair{x.t(), one}, std::pair{one, one}}) {
      Shape s = broadcast_shapes(a.shape(), b.shape(), "test");
      std::vector<float> av = expand(a, s).contiguous().to_vector<float>(), bv = expand(b, s).contiguous().to_vector<float>();
      Tensor r = op.f(a, b);
      ASSERT_EQ(r.dtype(), DType::b8);
      ASSERT_EQ(r.shape(), s);
      std::vector<bool> got = r.contiguous().to_vector<bool>();
      int bad = 0;
      for (size_t i = 0; i < got.size(); ++i) bad += got[i] != op.g(av[i], bv[i]);
      EXPECT_EQ(bad, 0) << op.name << " " << to_string(a.shape()) << " " << to_string(b.shape());
    }
  }
}

// index_select at sizes that split the row copies over threads, against a plain loop
TEST(ReduceF32, IndexSelectLargeEqualsALoop) {
  manual_seed(13);
  Tensor x = randn({300, 200});
  Tensor idx = randint(0, 300, {500});
  std::vector<float> xv = x.to_vector<float>();
  std::vector<int64_t> iv = idx.to_vector<int64_t>();
  std::vector<float> got0 = index_select(x, 0, idx).to_vector<float>();
  int bad = 0;
  for (int64_t r = 0; r < 500; ++r)
    for (int64_t c = 0; c < 200; ++c) bad += got0[r * 200 + c] != xv[iv[r] * 200 + c];
  EXPECT_EQ(bad, 0);
  Tensor idx1 = randint(0, 200, {700});
  std::vector<int64_t> iv1 = idx1.to_vector<int64_t>();
  std::vector<float> got1 = index_select(x, 1, idx1).to_vector<float>();
  for (int64_t r = 0; r < 300; ++r)
    for (int64_t c = 0; c < 700; ++c) bad += got1[r * 700 + c] != xv[r * 200 + iv1[c]];
  EXPECT_EQ(bad, 0);
}

// where selects bits exactly (NaN, -0) for every dtype, with either side a single value
TEST(ReduceF32, WhereEveryDtypeAndBroadcast) {
  manual_seed(14);
  Tensor m = gt(rand({37, 41}), scalar_tensor(0.5, DType::f32));
  Tensor x = randn({37, 41}), y = randn({37, 41});
  x.reshape({-1}).narrow(0, 3, 1).fill_(std::nan(""));
  x.reshape({-1}).narrow(0, 4, 1).fill_(-0.0);
  const std::vector<uint8_t> mv = m.to(DType::u8).to_vector<uint8_t>();
  for (DType dt : {DType::f32, DType::f64, DType::i64, DType::i32, DType::u8, DType::b8}) {
    Tensor a = dt == DType::b8 ? gt(x, zeros({})) : (dt == DType::u8 ? abs(x * 10) : x * 10).to(dt);
    Tensor b = dt == DType::b8 ? lt(y, zeros({})) : (dt == DType::u8 ? abs(y * 10) : y * 10).to(dt);
    for (auto [p, q] : {std::pair{a, b}, std::pair{a, b.narrow(0, 0, 1).narrow(1, 0, 1).reshape({})},
                        std::pair{a.narrow(0, 0, 1).narrow(1, 0, 1).reshape({}), b}}) {
      Tensor got = where(m, p, q).to(DType::f64);
      Tensor pe = expand(p, {37, 41}).to(DType::f64), qe = expand(q, {37, 41}).to(DType::f64);
      std::vector<double> g = got.contiguous().to_vector<double>(), pv = pe.contiguous().to_vector<double>(),
                          qv = qe.contiguous().to_vector<double>();
      int bad = 0;
      for (size_t i = 0; i < g.size(); ++i) {
        const double w = mv[i] ? pv[i] : qv[i];
        bad += !((g[i] == w && std::signbit(g[i]) == std::signbit(w)) || (std::isnan(g[i]) && std::isnan(w)));
      }
      EXPECT_EQ(bad, 0) << dtype_name(dt);
    }
  }
}

// 0-d gather / scatter_add, as PyTorch: one element (they read past an empty shape before)
TEST(ReduceF32, ZeroDimGatherAndScatterAdd) {
  Tensor x = scalar_tensor(3.0, DType::f32).requires_grad_(true), i = scalar_tensor(0.0, DType::i64);
  Tensor y = gather(x, 0, i);
  EXPECT_EQ(y.dim(), 0);
  EXPECT_EQ(y.item<float>(), 3.f);
  (y * 2.0).backward();
  EXPECT_EQ(x.grad().item<float>(), 2.f);
  Tensor z = scatter_add(scalar_tensor(3.0, DType::f32), 0, i, scalar_tensor(2.0, DType::f32));
  EXPECT_EQ(z.dim(), 0);
  EXPECT_EQ(z.item<float>(), 5.f);
  EXPECT_THROW(gather(scalar_tensor(3.0, DType::f32), 0, scalar_tensor(1.0, DType::i64)), Error);
}

// contiguous() of transposed f32 layouts (2-D, batched 3-D, a narrowed source with a wider stride, edges that
// are not whole 16x16 tiles) through the tile transpose equals an element-by-element copy
TEST(ReduceF32, TransposedCopiesEqualElementwise) {
  manual_seed(15);
  for (Tensor v : {randn({1024, 1024}).t(), randn({37, 53}).t(), randn({16, 16}).t(),
                   randn({70, 90}).narrow(1, 3, 40).t(), randn({3, 33, 47}).transpose(1, 2),
                   randn({2, 50, 20}).permute({0, 2, 1})}) {
    Tensor c = v.contiguous();
    ASSERT_TRUE(c.is_contiguous());
    ASSERT_EQ(c.shape(), v.shape());
    // the reference: one element at a time through select
    const int64_t R = v.shape()[v.dim() - 2], C = v.shape()[v.dim() - 1], B = v.dim() == 3 ? v.shape()[0] : 1;
    std::vector<float> got = c.to_vector<float>();
    const float* base = v.data<float>();
    int bad = 0;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t i = 0; i < R; ++i)
        for (int64_t j = 0; j < C; ++j) {
          const int64_t off = (v.dim() == 3 ? b * v.strides()[0] : 0) + i * v.strides()[v.dim() - 2] +
                              j * v.strides()[v.dim() - 1];
          bad += got[(b * R + i) * C + j] != base[off];
        }
    EXPECT_EQ(bad, 0) << to_string(v.shape());
  }
}

// fill_ / zero_ on every dtype (the bits of the value, threads over large tensors), add_ with alpha and with
// itself (in place through the vectorized rows), against plain loops
TEST(ReduceF32, FillZeroAndAddInPlace) {
  for (DType dt : {DType::f32, DType::f64, DType::i64, DType::i32, DType::u8, DType::b8}) {
    Tensor t = zeros({300, 301}, dt);
    t.fill_(dt == DType::b8 ? 1.0 : 7.0);
    std::vector<double> v = t.to(DType::f64).to_vector<double>();
    EXPECT_TRUE(std::all_of(v.begin(), v.end(), [&](double a) { return a == (dt == DType::b8 ? 1.0 : 7.0); }))
        << dtype_name(dt);
    t.zero_();
    v = t.to(DType::f64).to_vector<double>();
    EXPECT_TRUE(std::all_of(v.begin(), v.end(), [](double a) { return a == 0.0; })) << dtype_name(dt);
  }
  Tensor neg0 = zeros({70000});
  neg0.fill_(-0.0);
  EXPECT_TRUE(std::signbit(neg0.to_vector<float>()[69999]));
  manual_seed(16);
  Tensor x = randn({300, 301}), y = randn({300, 301});
  std::vector<float> xv = x.to_vector<float>(), yv = y.to_vector<float>();
  x.add_(y, 0.37);
  std::vector<float> got = x.to_vector<float>();
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i) bad += got[i] != xv[i] + 0.37f * yv[i];
  EXPECT_EQ(bad, 0);
  x.add_(x);  // out, a and b all the same
  std::vector<float> twice = x.to_vector<float>();
  for (size_t i = 0; i < got.size(); ++i) bad += twice[i] != got[i] + got[i];
  EXPECT_EQ(bad, 0);
}

TEST(ReduceF32, PowCommonExponentsMatchPow) {
  manual_seed(8);
  Tensor x = rand({1000}) * 4 + 0.1;
  for (double e : {2.0, 3.0, 0.5, -1.0, 1.5}) {
    Tensor a = x.detach().requires_grad_(true), b = x.to(DType::f64).requires_grad_(true);
    Tensor ya = pow(a, e), yb = pow(b, e);
    EXPECT_LT(max_rel(ya, yb, 0), 4e-7) << "exponent " << e;
    sum(ya).backward();
    sum(yb).backward();
    EXPECT_LT(max_rel(a.grad(), b.grad(), 0), 4e-7) << "exponent " << e;
  }
  // negative bases with integer exponents, and zero
  Tensor n = from_vector(std::vector<float>{-2.f, -0.5f, 0.f, 3.f}, {4});
  Tensor sq = pow(n, 2.0), cu = pow(n, 3.0);
  EXPECT_EQ(sq.to_vector<float>(), (std::vector<float>{4.f, 0.25f, 0.f, 9.f}));
  EXPECT_EQ(cu.to_vector<float>(), (std::vector<float>{-8.f, -0.125f, 0.f, 27.f}));
  EXPECT_TRUE(std::isnan(pow(n, 0.5).to_vector<float>()[0]));
  EXPECT_EQ(pow(n, -1.0).to_vector<float>()[2], std::numeric_limits<float>::infinity());
}

}  // namespace
