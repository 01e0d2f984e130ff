// Tensor basics: creation, views sharing storage, printing, item, errors.
#include <gtest/gtest.h>

#include <cmath>

#include <nerve/nerve.h>

using namespace nerve;

TEST(Tensor, CreationAndViews) {
  Tensor a = arange(0, 6, 1, DType::f32).reshape({2, 3});
  EXPECT_EQ(a.shape(), (Shape{2, 3}));
  Tensor t = a.t();
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(t.storage(), a.storage());
  Tensor s = a.select(1, 2);
  EXPECT_EQ(s.to_vector<float>(), (std::vector<float>{2, 5}));
  EXPECT_EQ(a.narrow(1, 1, 2).contiguous().to_vector<float>(), (std::vector<float>{1, 2, 4, 5}));
}

// The method forms call the free functions: same values, same dtype, and a gradient through them.
TEST(Tensor, MethodForms) {
  manual_seed(5);
  Tensor x = randn({3, 4}, DType::f64), m = gt(x, zeros({}, DType::f64));
  auto same = [](const Tensor& a, const Tensor& b) {
    return a.shape() == b.shape() && a.dtype() == b.dtype() && a.to_vector<double>() == b.to_vector<double>();
  };
  EXPECT_TRUE(same(x.max(), max(x)));
  EXPECT_TRUE(same(x.min(), min(x)));
  EXPECT_TRUE(same(x.max(1).first, max(x, 1).first));
  EXPECT_TRUE(same(x.min(0, true).second, min(x, 0, true).second));
  EXPECT_TRUE(same(x.argmin(1), argmin(x, 1)));
  EXPECT_TRUE(same(x.var({1}), var(x, {1})));
  EXPECT_TRUE(same(x.std({0}, 0, true), nerve::std(x, {0}, 0, true)));
  EXPECT_TRUE(same(x.norm(2, {1}), norm(x, 2, {1})));
  EXPECT_TRUE(same(x.topk(2).second, topk(x, 2).second));
  EXPECT_TRUE(same(x.cumsum(1), cumsum(x, 1)));
  EXPECT_TRUE(same(x.softmax(1), softmax(x, 1)));
  EXPECT_TRUE(same(x.log_softmax(0), log_softmax(x, 0)));
  EXPECT_TRUE(same(x.abs(), abs(x)));
  EXPECT_TRUE(same(x.abs().sqrt(), sqrt(abs(x))));
  EXPECT_TRUE(same(x.clamp(-0.5, 0.5), clamp(x, -0.5, 0.5)));
  EXPECT_TRUE(same(x.clamp(std::nullopt, 0.1), clamp(x, std::nullopt, 0.1)));
  EXPECT_TRUE(same(x.tril(-1), tril(x, -1)));
  EXPECT_TRUE(same(x.triu(), triu(x)));
  EXPECT_TRUE(same(x.masked_select(m), masked_select(x, m)));
  Tensor w = x.detach().requires_grad_();
  w.softmax(1).max().backward();
  EXPECT_TRUE(w.grad().defined());
}

TEST(Tensor, Printing) {
  Tensor a = tensor({{1.f, 2.f}, {3.f, 4.f}});
  EXPECT_EQ(a.to_string(), "tensor([[1.0000, 2.0000],\n        [3.0000, 4.0000]])");
  // NaN and infinities as PyTorch writes them
  EXPECT_EQ(tensor({std::nanf(""), -std::nanf(""), INFINITY, -INFINITY}).to_string(),
            "tensor([nan, nan, inf, -inf])");
  EXPECT_EQ(gt(tensor({1.f, 0.f}), scalar_tensor(0.5)).to_string(), "tensor([True, False], dtype=bool)");
  // 1,000 elements print whole; more are summarized as PyTorch does (3 items at each end of every dim)
  EXPECT_EQ(arange(1000).to_string().find("..."), std::string::npos);
  EXPECT_EQ(arange(1001).to_string(), "tensor([0, 1, 2, ..., 998, 999, 1000])");
  Tensor big = arange(1000000).reshape({1000, 1000});
  std::string s = big.to_string();
  EXPECT_EQ(s,
            "tensor([[0, 1, 2, ..., 997, 998, 999],\n"
            "        [1000, 1001, 1002, ..., 1997, 1998, 1999],\n"
            "        [2000, 2001, 2002, ..., 2997, 2998, 2999],\n"
            "        ...,\n"
            "        [997000, 997001, 997002, ..., 997997, 997998, 997999],\n"
            "        [998000, 998001, 998002, ..., 998997, 998998, 998999],\n"
            "        [999000, 999001, 999002, ..., 999997, 999998, 999999]])");
  EXPECT_EQ(zeros({2, 0}).to_string(), "tensor([[],\n        []], size=[2, 0])");
}

TEST(Tensor, ComparisonOperators) {
  Tensor a = tensor({1.f, 2.f, std::nanf(""), 4.f}), b = tensor({2.f});  // b broadcasts
  auto bools = [](const Tensor& t) { return t.to(DType::i64).to_vector<int64_t>(); };
  EXPECT_EQ(bools(a <= b), (std::vector<int64_t>{1, 1, 0, 0}));
  EXPECT_EQ(bools(a >= b), (std::vector<int64_t>{0, 1, 0, 1}));
  EXPECT_EQ(bools(a != b), (std::vector<int64_t>{1, 0, 1, 1}));  // NaN != anything
  EXPECT_EQ((a <= b).dtype(), DType::b8);
}

TEST(Autograd, SimpleChain) {
  Tensor x = tensor({1.f, 2.f, 3.f}).requires_grad_();
  Tensor y = sum(x * x + x);
  y.backward();
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{3, 5, 7}));
}

TEST(Autograd, LongChainNoStackOverflow) {
  Tensor x = ones({4}).requires_grad_();
  Tensor y = x;
  for (int i = 0; i < 10000; ++i) y = y * 1.0;
  sum(y).backward();
  EXPECT_EQ(x.grad().to_vector<float>(), (std::vector<float>{1, 1, 1, 1}));
}

TEST(Errors, MatmulShapes) {
  try {
    matmul(zeros({4, 3}), zeros({5, 2}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "matmul: a.shape[-1] (3) != b.shape[-2] (5); a is [4, 3] f32, b is [5, 2] f32");
  }
}
