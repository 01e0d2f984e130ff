// The fused scaled_dot_product_attention beyond its golden cases and gradient checks: f32 against the explicit
// composite softmax(q k^T s + mask) v on shapes of several tiles, fully masked rows (0, not NaN), results
// independent of the thread count, dropout (reproducible, the right fraction dropped and scaling), the meta device,
// and the error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include <nerve/nerve.h>

#include "threads_guard.h"

namespace {

using namespace nerve;

// softmax(q k^T / sqrt(E) + mask) v written with the ops, the causal mask top-left aligned (torch's)
Tensor composite(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, bool causal) {
  Tensor s = matmul(q, transpose(k, -1, -2)) * (1.0 / std::sqrt(double(q.shape().back())));
  const int64_t L = q.shape()[q.dim() - 2], S = k.shape()[k.dim() - 2];
  if (causal) s = masked_fill(s, logical_not(gt(tril(ones({L, S})), zeros({}))), -INFINITY);
  if (mask.defined()) s = mask.dtype() == DType::b8 ? masked_fill(s, logical_not(mask), -INFINITY) : s + mask;
  return matmul(softmax(s, -1), v);
}

double max_abs_diff(const Tensor& a, const Tensor& b) { return max(abs(a - b)).to(DType::f64).item<double>(); }

bool has_nan(const Tensor& t) {
  for (float x : t.contiguous().to_vector<float>())
    if (std::isnan(x)) return true;
  return false;
}

// bit-identical values
bool equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.contiguous().to_vector<float>() == b.contiguous().to_vector<float>();
}

struct Grads {
  Tensor out, dq, dk, dv, dm;
};

template <class F>
Grads run(F f, const Tensor& q0, const Tensor& k0, const Tensor& v0, const Tensor& m0, const Tensor& gout) {
  Tensor q = q0.detach().requires_grad_(), k = k0.detach().requires_grad_(), v = v0.detach().requires_grad_();
  Tensor m = m0.defined() && is_floating(m0.dtype()) ? m0.detach().requires_grad_() : m0;
  Tensor out = f(q, k, v, m);
  sum(out * gout).backward();
  return {out.detach(), q.grad(), k.grad(), v.grad(), m.defined() && m.requires_grad() ? m.grad() : Tensor()};
}

TEST(Attention, MatchesCompositeF32ManyTiles) {
  manual_seed(3);
  const Tensor q = randn({2, 2, 150, 16}), k = randn({2, 2, 130, 16}), v = randn({2, 2, 130, 8});
  const Tensor m = randn({2, 1, 150, 130});
  const Tensor g = randn({2, 2, 150, 8});
  for (bool causal : {false, true}) {
    SCOPED_TRACE(causal ? "causal" : "not causal");
    Grads a = run([&](auto& q, auto& k, auto& v, auto& m) { return scaled_dot_product_attention(q, k, v, m, 0.0, causal); },
                  q, k, v, m, g);
    Grads b = run([&](auto& q, auto& k, auto& v, auto& m) { return composite(q, k, v, m, causal); }, q, k, v, m, g);
    EXPECT_LT(max_abs_diff(a.out, b.out), 2e-5);
    EXPECT_LT(max_abs_diff(a.dq, b.dq), 1e-4);
    EXPECT_LT(max_abs_diff(a.dk, b.dk), 1e-4);
    EXPECT_LT(max_abs_diff(a.dv, b.dv), 1e-4);
    EXPECT_LT(max_abs_diff(a.dm, b.dm), 1e-4);
  }
}

TEST(Attention, KeyPaddingMaskF32) {
  manual_seed(4);
  const Tensor q = randn({3, 2, 70, 8}), k = randn({3, 2, 90, 8}), v = randn({3, 2, 90, 8});
  Tensor pad = gt(uniform({3, 1, 1, 90}, 0.0, 1.0), full({}, 0.3));
  pad.select(3, 0).fill_(1.0);
  const Tensor g = randn({3, 2, 70, 8});
  Grads a = run([&](auto& q, auto& k, auto& v, auto& m) { return scaled_dot_product_attention(q, k, v, m); }, q, k, v,
                pad, g);
  Grads b = run([&](auto& q, auto& k, auto& v, auto& m) { return composite(q, k, v, m, false); }, q, k, v, pad, g);
  EXPECT_LT(max_abs_diff(a.out, b.out), 2e-5);
  EXPECT_LT(max_abs_diff(a.dq, b.dq), 1e-4);
  EXPECT_LT(max_abs_diff(a.dk, b.dk), 1e-4);
  EXPECT_LT(max_abs_diff(a.dv, b.dv), 1e-4);
}

// torch gives NaN for a row that sees no key; nerve gives 0 output and 0 gradients, and the other rows are exact.
TEST(Attention, FullyMaskedRowIsZeroNotNaN) {
  manual_seed(5);
  const Tensor q = randn({2, 4, 3}), k = randn({2, 5, 3}), v = randn({2, 5, 2});
  Tensor m = ones({4, 5}, DType::b8);
  m.select(0, 2).fill_(0.0);  // row 2 sees nothing
  Tensor fm = zeros({4, 5});
  fm.select(0, 2).fill_(-INFINITY);  // the same as a float mask
  const Tensor g = randn({2, 4, 2});
  for (const Tensor& mask : {m, fm}) {
    Grads a = run([&](auto& q, auto& k, auto& v, auto& m) { return scaled_dot_product_attention(q, k, v, m); }, q, k,
                  v, mask, g);
    EXPECT_EQ(max(abs(a.out.select(1, 2))).item<float>(), 0.f);
    EXPECT_EQ(max(abs(a.dq.select(1, 2))).item<float>(), 0.f);
    for (const Tensor& t : {a.out, a.dq, a.dk, a.dv}) EXPECT_FALSE(has_nan(t));
    Tensor keep = from_vector<int64_t>({0, 1, 3}, {3});
    Grads b = run([&](auto& q, auto& k, auto& v, auto&) { return composite(q, k, v, Tensor(), false); },
                  index_select(q, 1, keep), k, v, Tensor(), index_select(g, 1, keep));
    EXPECT_LT(max_abs_diff(index_select(a.out, 1, keep), b.out), 1e-6);
    EXPECT_LT(max_abs_diff(a.dk, b.dk), 1e-5);
    EXPECT_LT(max_abs_diff(a.dv, b.dv), 1e-5);
  }
}

TEST(Attention, SameResultsAtAnyThreadCount) {
  manual_seed(6);
  const Tensor q = randn({2, 3, 130, 8}), k = randn({2, 3, 70, 8}), v = randn({2, 3, 70, 4}), g = randn({2, 3, 130, 4});
  const Tensor m = randn({130, 70});
  auto f = [](auto& q, auto& k, auto& v, auto& m) { return scaled_dot_product_attention(q, k, v, m, 0.0, true); };
  Grads one, two;
  {
    nerve::testing::ThreadsGuard t(1);
    one = run(f, q, k, v, m, g);
  }
  {
    nerve::testing::ThreadsGuard t(2);
    two = run(f, q, k, v, m, g);
  }
  EXPECT_TRUE(equal(one.out, two.out));
  EXPECT_TRUE(equal(one.dq, two.dq));
  EXPECT_TRUE(equal(one.dk, two.dk));
  EXPECT_TRUE(equal(one.dv, two.dv));
  EXPECT_TRUE(equal(one.dm, two.dm));
}

// One slice: two threads take the two-pass backward (key blocks, then query blocks), one thread the one-pass.
TEST(Attention, OneSliceBackwardSameAtAnyThreadCount) {
  manual_seed(8);
  const Tensor q = randn({1, 150, 8}), k = randn({1, 140, 8}), v = randn({1, 140, 4}), g = randn({1, 150, 4});
  const Tensor m = randn({150, 140});
  for (double p : {0.0, 0.2}) {
    auto f = [p](auto& q, auto& k, auto& v, auto& m) {
      manual_seed(9);
      return scaled_dot_product_attention(q, k, v, m, p, true);
    };
    Grads one, two;
    {
      nerve::testing::ThreadsGuard t(1);
      one = run(f, q, k, v, m, g);
    }
    {
      nerve::testing::ThreadsGuard t(2);
      two = run(f, q, k, v, m, g);
    }
    EXPECT_TRUE(equal(one.out, two.out));
    EXPECT_TRUE(equal(one.dq, two.dq));
    EXPECT_TRUE(equal(one.dk, two.dk));
    EXPECT_TRUE(equal(one.dv, two.dv));
    EXPECT_TRUE(equal(one.dm, two.dm));
    if (p == 0.0) {  // and both are right
      Grads c = run([](auto& q, auto& k, auto& v, auto& m) { return composite(q, k, v, m, true); }, q, k, v, m, g);
      EXPECT_LT(max_abs_diff(two.dq, c.dq), 1e-4);
      EXPECT_LT(max_abs_diff(two.dk, c.dk), 1e-4);
      EXPECT_LT(max_abs_diff(two.dv, c.dv), 1e-4);
      EXPECT_LT(max_abs_diff(two.dm, c.dm), 1e-4);
    }
  }
}

// With v = identity the output is the dropped probability matrix itself.
TEST(Attention, DropoutIsSeededAndScaled) {
  const int64_t L = 64, S = 96;
  manual_seed(7);
  const Tensor q = randn({1, L, 4}), k = randn({1, S, 4}), v = eye(S).unsqueeze(0);
  const double p = 0.25;
  manual_seed(11);
  const Tensor a = scaled_dot_product_attention(q, k, v, Tensor(), p);
  manual_seed(11);
  const Tensor b = scaled_dot_product_attention(q, k, v, Tensor(), p);
  const Tensor c = scaled_dot_product_attention(q, k, v, Tensor(), p);  // the stream moved on
  EXPECT_TRUE(equal(a, b));
  EXPECT_FALSE(equal(a, c));
  const Tensor probs = softmax(matmul(q, transpose(k, 1, 2)) * 0.5, -1);
  const Tensor dropped = eq(a, zeros({}));
  const double frac = mean(dropped.to(DType::f32)).item<float>();
  EXPECT_NEAR(frac, p, 0.02);  // 6144 draws: 3 standard deviations is 0.017
  const Tensor kept_err = where(dropped, zeros({}), a - probs / (1 - p));
  EXPECT_LT(max(abs(kept_err)).item<float>(), 1e-6);
  // p = 1 drops everything; p = 0 is the plain op
  EXPECT_EQ(max(abs(scaled_dot_product_attention(q, k, v, Tensor(), 1.0))).item<float>(), 0.f);
  EXPECT_LT(max_abs_diff(scaled_dot_product_attention(q, k, v), probs), 1e-6);
}

TEST(Attention, MetaDeviceGivesShapes) {
  const Tensor q = empty({2, 8, 4096, 64}, DType::f32, Device::meta).requires_grad_();
  const Tensor k = empty({2, 8, 1000, 64}, DType::f32, Device::meta).requires_grad_();
  const Tensor v = empty({2, 8, 1000, 32}, DType::f32, Device::meta).requires_grad_();
  const Tensor m = empty({2, 1, 1, 1000}, DType::b8, Device::meta);
  Tensor out = scaled_dot_product_attention(q, k, v, m, 0.0, true);
  EXPECT_TRUE(out.is_meta());
  EXPECT_EQ(out.shape(), (Shape{2, 8, 4096, 32}));
  sum(out).backward();
  EXPECT_EQ(q.grad().shape(), q.shape());
  EXPECT_EQ(k.grad().shape(), k.shape());
  EXPECT_EQ(v.grad().shape(), v.shape());
  EXPECT_TRUE(q.grad().is_meta());
}

void expect_error(const std::function<void()>& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    for (const std::string& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

TEST(Attention, ErrorsNameTheShapes) {
  const Tensor q = randn({2, 3, 5, 4}), k = randn({2, 3, 6, 4}), v = randn({2, 3, 6, 2});
  expect_error([&] { scaled_dot_product_attention(q, randn({2, 3, 6, 3}), v); },
               {"scaled_dot_product_attention", "same last dim E", "[2, 3, 5, 4]", "[2, 3, 6, 3]"});
  expect_error([&] { scaled_dot_product_attention(q, k, randn({2, 3, 7, 2})); },
               {"scaled_dot_product_attention", "number of keys", "[2, 3, 7, 2]"});
  expect_error([&] { scaled_dot_product_attention(q, randn({2, 4, 6, 4}), randn({2, 4, 6, 2})); },
               {"same leading", "[2, 4, 6, 4]"});
  expect_error([&] { scaled_dot_product_attention(q, k, v, ones({5, 7}, DType::b8)); },
               {"attn_mask must broadcast to (..., L, S) = [2, 3, 5, 6]", "[5, 7]"});
  expect_error([&] { scaled_dot_product_attention(q, k, v, ones({2, 5, 6}, DType::b8)); }, {"[2, 5, 6]"});
  expect_error([&] { scaled_dot_product_attention(q, k, v, ones({5, 6}, DType::i64)); }, {"bool", "i64"});
  expect_error([&] { scaled_dot_product_attention(q, k, v, Tensor(), 1.5); }, {"dropout_p must be in [0, 1], got 1.5"});
  expect_error([&] { scaled_dot_product_attention(q, k.to(DType::f64), v); }, {"one floating dtype", "f64"});
  expect_error([&] { scaled_dot_product_attention(Tensor(), k, v); }, {"scaled_dot_product_attention", "query"});
  expect_error([&] { scaled_dot_product_attention(randn({4}), randn({4}), randn({4})); }, {">= 2"});
}

TEST(RmsNorm, DefaultEpsIsTheDtypeEpsilon) {
  const Tensor x = zeros({2, 3});
  // x = 0: y = 0 * rsqrt(eps), finite; and a known value
  EXPECT_EQ(max(abs(rms_norm(x, {3}))).item<float>(), 0.f);
  const Tensor y = rms_norm(from_vector<float>({3, 4}, {1, 2}), {2}, Tensor(), 0.0);
  EXPECT_NEAR(y.to_vector<float>()[0], 3 / std::sqrt(12.5), 1e-6);
  expect_error([] { rms_norm(randn({2, 3}), {2}); }, {"rms_norm", "[2]", "[2, 3]"});
  expect_error([] { rms_norm(randn({2, 3}), {3}, randn({2})); }, {"rms_norm: weight must be [3]"});
}

}  // namespace
