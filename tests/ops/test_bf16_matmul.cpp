// matmul, bmm and linear on bf16 tensors (f32 accumulation, one rounding to bf16), checked against the same
// products computed in f64 from the same bf16 inputs and rounded once: every element within one bf16 step (the
// f32 accumulation can only move a result that lies near a rounding boundary), on oneDNN's bf16 kernels and on the
// f32 fallback that CPUs without AVX-512 run, forward and backward, and the same bits on any thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include <nerve/nerve.h>

#include "backend/cpu/gemm.h"
#include "threads_guard.h"

using namespace nerve;

namespace {

// The bf16 bits of a bf16 tensor, in row-major order
std::vector<uint16_t> bits_of(const Tensor& t) {
  const Tensor c = t.contiguous();
  std::vector<uint16_t> v(c.numel());
  if (!v.empty()) std::memcpy(v.data(), c.raw_data(), v.size() * 2);
  return v;
}

// bf16 steps between two bf16 values of one sign (the bit patterns are ordered by magnitude within a sign)
int64_t steps_apart(uint16_t a, uint16_t b) {
  if ((a & 0x8000) != (b & 0x8000)) return (a & 0x7fff) + (b & 0x7fff);  // across zero
  return std::abs(int64_t(a & 0x7fff) - int64_t(b & 0x7fff));
}

// actual (bf16) within one bf16 step of want (an f64 tensor, rounded to bf16 here)
::testing::AssertionResult within_one_step(const Tensor& actual, const Tensor& want64) {
  if (actual.dtype() != DType::bf16) return ::testing::AssertionFailure() << "dtype " << dtype_name(actual.dtype());
  if (actual.shape() != want64.shape())
    return ::testing::AssertionFailure() << "shape " << to_string(actual.shape()) << " != " << to_string(want64.shape());
  const std::vector<uint16_t> a = bits_of(actual), w = bits_of(want64.to(DType::f32).to(DType::bf16));
  for (size_t i = 0; i < a.size(); ++i)
    if (steps_apart(a[i], w[i]) > 1)
      return ::testing::AssertionFailure() << "element " << i << ": bits " << a[i] << " vs " << w[i] << " ("
                                           << steps_apart(a[i], w[i]) << " bf16 steps apart)";
  return ::testing::AssertionSuccess();
}

// Random bf16 values (normal, rounded from f32)
Tensor rand_bf16(const Shape& s) { return randn(s).to(DType::bf16); }

// Runs the test body on oneDNN's bf16 kernels (where this CPU has them) and on the f32 fallback
class Bf16 : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { cpu::gemm_bf16_force_fallback(GetParam()); }
  void TearDown() override { cpu::gemm_bf16_force_fallback(false); }
};

TEST_P(Bf16, MatmulIsTheF64ProductRoundedOnce) {
  manual_seed(3);
  struct Case {
    Shape a, b;
  };
  // 2-D, vector forms, batched and broadcast batches, an empty K, and shapes large enough to be split into tiles
  for (const Case& c : std::vector<Case>{{{3, 4}, {4, 5}},
                                         {{1, 7}, {7, 1}},
                                         {{5}, {5, 3}},
                                         {{3, 5}, {5}},
                                         {{2, 3, 4}, {2, 4, 6}},
                                         {{2, 1, 3, 4}, {5, 4, 2}},
                                         {{4, 0}, {0, 3}},
                                         {{130, 300}, {300, 70}},
                                         {{17, 1000}, {1000, 500}}}) {
    const Tensor a = rand_bf16(c.a), b = rand_bf16(c.b);
    const Tensor y = matmul(a, b);
    EXPECT_TRUE(within_one_step(y, matmul(a.to(DType::f64), b.to(DType::f64))))
        << to_string(c.a) << " @ " << to_string(c.b);
  }
}

TEST_P(Bf16, TransposedAndStridedOperands) {
  manual_seed(4);
  const Tensor a = rand_bf16({40, 33}), b = rand_bf16({50, 40}), s = rand_bf16({40, 100});
  const Tensor a64 = a.to(DType::f64), b64 = b.to(DType::f64), s64 = s.to(DType::f64);
  // a^T (33, 40) @ b^T (40, 50): both transpose flags; a column slice (rows 100 apart) as the right operand
  EXPECT_TRUE(within_one_step(matmul(transpose(a, 0, 1), transpose(b, 0, 1)),
                              matmul(transpose(a64, 0, 1), transpose(b64, 0, 1))));
  EXPECT_TRUE(within_one_step(matmul(transpose(a, 0, 1), narrow(s, 1, 10, 60)),
                              matmul(transpose(a64, 0, 1), narrow(s64, 1, 10, 60))));
  EXPECT_TRUE(within_one_step(bmm(rand_bf16({0, 3, 4}), rand_bf16({0, 4, 2})), zeros({0, 3, 2}, DType::f64)));
}

TEST_P(Bf16, NanInfAndRoundingOfTheResult) {
  // NaN propagates, inf stays inf, and 1 + 2^-8 (halfway between the bf16 neighbours 1 and 1 + 2^-7) rounds to
  // the even one, 1
  const Tensor a = from_vector<float>({NAN, 1.f, 1.f, 1.f, 1.f, 0.00390625f}, {3, 2}).to(DType::bf16);
  const Tensor b = from_vector<float>({1.f, INFINITY, 1.f, 1.f}, {2, 2}).to(DType::bf16);
  const std::vector<float> y = matmul(a, b).to(DType::f32).to_vector<float>();
  EXPECT_TRUE(std::isnan(y[0]) && std::isnan(y[1]));  // NaN * 1 + 1 * 1
  EXPECT_EQ(y[2], 2.f);
  EXPECT_EQ(y[3], INFINITY);
  EXPECT_EQ(y[4], 1.f);
  EXPECT_EQ(y[5], INFINITY);
}

TEST_P(Bf16, MatmulGradientsThroughConversions) {
  // the mixed-precision pattern: f32 leaves, converted to bf16 for the product; the gradients are bf16 products
  manual_seed(5);
  Tensor a = randn({24, 40}).requires_grad_(), b = randn({40, 30}).requires_grad_();
  const Tensor g = randn({24, 30}).to(DType::bf16);
  const Tensor y = matmul(a.to(DType::bf16), b.to(DType::bf16));
  (y.to(DType::f32) * g.to(DType::f32)).sum().backward();
  const Tensor a16 = a.detach().to(DType::bf16).to(DType::f64), b16 = b.detach().to(DType::bf16).to(DType::f64);
  const Tensor g64 = g.to(DType::f64);
  EXPECT_EQ(a.grad().dtype(), DType::f32);
  EXPECT_TRUE(within_one_step(a.grad().to(DType::bf16), matmul(g64, transpose(b16, 0, 1))));
  EXPECT_TRUE(within_one_step(b.grad().to(DType::bf16), matmul(transpose(a16, 0, 1), g64)));
}

TEST_P(Bf16, LinearAndLinearReluForwardAndBackward) {
  manual_seed(6);
  for (bool relu : {false, true}) {
    Tensor x = randn({33, 48}).requires_grad_(), w = randn({20, 48}).requires_grad_(),
           bias = randn({20}).requires_grad_();
    const Tensor g = randn({33, 20}).to(DType::bf16);
    const Tensor xb = x.to(DType::bf16), wb = w.to(DType::bf16), bb = bias.to(DType::bf16);
    const Tensor y = relu ? linear_relu(xb, wb, bb) : linear(xb, wb, bb);
    // forward: x W^T + b and the ReLU in f64, rounded once
    const Tensor x64 = xb.to(DType::f64), w64 = wb.to(DType::f64), b64 = bb.to(DType::f64);
    Tensor want = matmul(x64, transpose(w64, 0, 1)) + b64;
    if (relu) want = nerve::relu(want);
    EXPECT_TRUE(within_one_step(y, want)) << "relu " << relu;
    (y.to(DType::f32) * g.to(DType::f32)).sum().backward();
    // backward: the gradient passes where y > 0 (relu); bias gradient = column sums
    Tensor g64 = g.to(DType::f64);
    if (relu) g64 = where(gt(y.to(DType::f64), zeros({}, DType::f64)), g64, zeros({}, DType::f64));
    EXPECT_TRUE(within_one_step(x.grad().to(DType::bf16), matmul(g64, w64))) << "relu " << relu;
    EXPECT_TRUE(within_one_step(w.grad().to(DType::bf16), matmul(transpose(g64, 0, 1), x64))) << "relu " << relu;
    EXPECT_TRUE(within_one_step(bias.grad().to(DType::bf16), sum(g64, {0}))) << "relu " << relu;
  }
}

TEST_P(Bf16, SameBitsOnAnyThreadCount) {
  manual_seed(7);
  const Tensor a = rand_bf16({256, 512}), b = rand_bf16({512, 384}), w = rand_bf16({96, 512});
  std::vector<uint16_t> mm1, lin1;
  for (int threads : {1, 2, 3, 4}) {
    nerve::testing::ThreadsGuard t(threads);
    const std::vector<uint16_t> mm = bits_of(matmul(a, b)), lin = bits_of(linear(a, w));
    if (threads == 1) {
      mm1 = mm;
      lin1 = lin;
      continue;
    }
    EXPECT_EQ(mm, mm1) << threads << " threads";
    EXPECT_EQ(lin, lin1) << threads << " threads";
  }
}

INSTANTIATE_TEST_SUITE_P(Paths, Bf16, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "F32Fallback" : "OneDnn"; });

TEST(Bf16Errors, MixedAndIntegerOperands) {
  // bf16 with f32 promotes to f32 (torch.result_type); bf16 with an integer tensor is refused
  const Tensor a = randn({2, 3}).to(DType::bf16), b = randn({3, 2});
  EXPECT_EQ(matmul(a, b).dtype(), DType::f32);
  EXPECT_THROW(matmul(a, ones({3, 2}, DType::i64)), Error);
  EXPECT_THROW(linear(a, randn({4, 3})), Error);  // linear wants one dtype
  EXPECT_THROW(matmul(randn({2, 3}).to(DType::f16), randn({3, 2}).to(DType::f16)), Error);  // f16: storage only
}

}  // namespace
