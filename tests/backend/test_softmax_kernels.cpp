// The vectorized f32 softmax rows behind cross_entropy against double-precision references, including the
// edge cases: -inf entries (masked logits), a row of all -inf, NaN, huge values, lengths with vector tails.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "backend/cpu/softmax_kernels.h"

using nerve::cpu::logsumexp_row;
using nerve::cpu::softmax_row;

namespace {
double ref_lse(const std::vector<float>& x) {
  double m = -INFINITY;
  for (float v : x) m = std::max(m, double(v));
  if (m == -INFINITY) return m;
  double s = 0;
  for (float v : x) s += std::exp(double(v) - m);
  return m + std::log(s);
}
}  // namespace

TEST(SoftmaxKernels, MatchDoubleReference) {
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0, 1);
  const float inf = std::numeric_limits<float>::infinity();
  for (int64_t n : {1, 2, 7, 10, 16, 17, 96, 100, 1000}) {
    for (float scale : {1.0f, 30.0f, 1000.0f}) {
      std::vector<float> x(n);
      for (float& v : x) v = nd(rng) * scale;
      if (n > 3) x[1] = -inf;  // a masked logit
      const double want = ref_lse(x);
      const float got = logsumexp_row(x.data(), n);
      EXPECT_NEAR(got, want, 2e-6 * std::max(1.0, std::abs(want))) << n << " " << scale;
      std::vector<float> p(n);
      softmax_row(x.data(), n, got, 2.0f, 0.25f, p.data());
      for (int64_t c = 0; c < n; ++c) {
        const double e = 2.0 * std::exp(double(x[c]) - double(got)) - 0.25;  // from the same (rounded) lse
        EXPECT_NEAR(p[c], e, 2e-6 * std::max(1.0, std::abs(e))) << n << " " << c;
      }
      if (n > 3) {
        EXPECT_EQ(p[1], -0.25f);  // e^-inf is exactly 0
      }
    }
  }
  std::vector<float> all_masked(9, -inf);
  EXPECT_EQ(logsumexp_row(all_masked.data(), 9), -inf);
  std::vector<float> with_nan{1.0f, std::numeric_limits<float>::quiet_NaN(), 2.0f};
  EXPECT_TRUE(std::isnan(logsumexp_row(with_nan.data(), 3)));
  std::vector<float> nan_and_masked{-inf, std::numeric_limits<float>::quiet_NaN()};
  EXPECT_TRUE(std::isnan(logsumexp_row(nan_and_masked.data(), 2)));
}
