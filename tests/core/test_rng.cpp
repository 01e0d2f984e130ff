// The generator and the random tensors: Generator is std::mt19937_64 number for number (one at a time, in bulk,
// mixed, after discard); rand keeps its formula (kept below high); randn's vector kernel equals its scalar definition, is close to
// the exact Box-Muller values, and its 1M samples pass moment and Kolmogorov-Smirnov checks; SplitMix64 gives the
// reference stream.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <nerve/nerve.h>

#include "backend/cpu/random_kernels.h"

using namespace nerve;

TEST(Rng, GeneratorIsMt19937_64) {
  for (uint64_t seed : {uint64_t{0}, uint64_t{1}, uint64_t{5489}, uint64_t{0xDEADBEEFCAFEBABEULL}}) {
    std::mt19937_64 ref(seed);
    Generator g(seed);
    // single draws, bulk fills of awkward sizes (inside one block, across blocks, several blocks), discards
    std::vector<uint64_t> buf(2000);
    int checked = 0;
    for (int64_t chunk : {1, 5, 311, 312, 313, 1, 1000, 624, 2000, 7}) {
      g.fill(buf.data(), chunk);
      for (int64_t i = 0; i < chunk; ++i, ++checked) ASSERT_EQ(buf[i], ref()) << "seed " << seed << " number " << checked;
      ASSERT_EQ(g(), ref()) << "seed " << seed;
      g.discard(100);
      ref.discard(100);
    }
    EXPECT_EQ(checked, 4574);
  }
  Generator g;  // the default seed is std::mt19937_64's
  std::mt19937_64 ref;
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(g(), ref());
  EXPECT_EQ(Generator::min(), std::mt19937_64::min());
  EXPECT_EQ(Generator::max(), std::mt19937_64::max());
}

TEST(Rng, ManualSeedRandKeepsItsFormula) {
  manual_seed(77);
  Tensor t = rand({3001});
  Tensor u = uniform({5}, -2.0, 3.0);
  std::mt19937_64 ref(77);
  std::vector<float> v = t.to_vector<float>();
  for (size_t i = 0; i < v.size(); ++i)
    ASSERT_EQ(v[i], static_cast<float>(0.0 + 1.0 * (static_cast<double>(ref() >> 11) * 0x1.0p-53))) << i;
  std::vector<float> w = u.to_vector<float>();
  for (size_t i = 0; i < w.size(); ++i)
    ASSERT_EQ(w[i], static_cast<float>(-2.0 + 5.0 * (static_cast<double>(ref() >> 11) * 0x1.0p-53))) << i;
  // the top of the range: the largest word rounds to high itself, and is kept just below it, as [low, high) says
  const uint64_t ones = ~uint64_t{0};
  float top;
  cpu::uniform_from_bits_f32(&ones, &top, 1, 2.0, 4.0);
  EXPECT_EQ(static_cast<float>(2.0 + 2.0 * (static_cast<double>(ones >> 11) * 0x1.0p-53)), 4.0f);
  EXPECT_EQ(top, std::nextafter(4.0f, 0.0f));
  cpu::uniform_from_bits_f32(&ones, &top, 1, 0.0, 1.0);
  EXPECT_LT(top, 1.0f);
  cpu::uniform_from_bits_f32(&ones, &top, 1, 3.0, 3.0);
  EXPECT_EQ(top, 3.0f);
  // a reversed, infinite or NaN range is an error, as in PyTorch
  for (auto [lo, hi] : {std::pair{3.0, 2.0}, std::pair{0.0, double(INFINITY)}, std::pair{double(NAN), 1.0}}) {
    try {
      uniform({2}, lo, hi);
      FAIL() << lo << " " << hi;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("uniform: expected finite low <= high"), std::string::npos) << e.what();
    }
  }
  // f64 draws the same numbers through its own loop
  manual_seed(77);
  std::vector<double> d = rand({10}, DType::f64).to_vector<double>();
  for (int i = 0; i < 10; ++i) EXPECT_FLOAT_EQ(static_cast<float>(d[i]), v[i]);
}

TEST(Rng, NormalKernelEqualsItsScalarDefinitionAndExactBoxMuller) {
  Generator g(3);
  const int64_t n = 4099;
  std::vector<uint64_t> bits(n);
  g.fill(bits.data(), n);
  std::vector<float> c(n), s(n);
  cpu::normal_pairs_from_bits_f32(bits.data(), c.data(), s.data(), n);
  double worst = 0;
  for (int64_t i = 0; i < n; ++i) {
    float cr, sr;
    cpu::normal_pair_from_bits(bits[i], cr, sr);
    ASSERT_EQ(c[i], cr) << i;  // vector and scalar code round alike (no FMA contraction in the kernel file)
    ASSERT_EQ(s[i], sr) << i;
    const double u1 = ((bits[i] >> 40) + 1) * 0x1p-24, u2 = ((bits[i] >> 16) & 0xFFFFFF) * 0x1p-24;
    const double r = std::sqrt(-2.0 * std::log(u1)), th = 2.0 * M_PI * u2;
    worst = std::max({worst, std::abs(c[i] - r * std::cos(th)), std::abs(s[i] - r * std::sin(th))});
  }
  EXPECT_LT(worst, 1e-6) << worst;  // a few float ulps of values up to 5.77 (measured 3.3e-7)
}

TEST(Rng, RandnStatisticsAndSizes) {
  manual_seed(2024);
  const int64_t n = 1 << 20;
  std::vector<float> v = randn({n}).to_vector<float>();
  double m = 0, m2 = 0, m4 = 0;
  for (float x : v) m += x;
  m /= n;
  for (float x : v) {
    const double d = x - m;
    m2 += d * d;
    m4 += d * d * d * d;
  }
  m2 /= n;
  m4 /= n;
  EXPECT_NEAR(m, 0.0, 0.005);
  EXPECT_NEAR(m2, 1.0, 0.005);
  EXPECT_NEAR(m4 / (m2 * m2), 3.0, 0.03);
  // Kolmogorov-Smirnov distance to the normal CDF (1% critical value for 2^20 samples: 0.0016)
  std::sort(v.begin(), v.end());
  double ks = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double F = 0.5 * std::erfc(-v[i] / std::sqrt(2.0));
    ks = std::max({ks, std::abs(F - double(i) / n), std::abs(F - double(i + 1) / n)});
  }
  EXPECT_LT(ks, 0.0016) << ks;
  // odd sizes and sizes around the 2048-value blocks: finite, reproducible, a prefix of the same seed's stream
  for (int64_t size : {1, 2, 3, 2047, 2048, 2049, 4097}) {
    manual_seed(9);
    std::vector<float> a = randn({size}).to_vector<float>();
    manual_seed(9);
    std::vector<float> b = randn({size}).to_vector<float>();
    EXPECT_EQ(a, b) << size;
    for (float x : a) ASSERT_TRUE(std::isfinite(x) && std::abs(x) <= 5.8f) << size;
  }
  manual_seed(9);
  std::vector<float> odd = randn({3}).to_vector<float>();
  manual_seed(9);
  std::vector<float> even = randn({4}).to_vector<float>();
  // 4 values: cos0 cos1 sin0 sin1; 3 values: cos0 cos1 sin0
  EXPECT_EQ(odd[0], even[0]);
  EXPECT_EQ(odd[1], even[1]);
  EXPECT_EQ(odd[2], even[2]);
}

TEST(Rng, SplitMix64IsTheReferenceStream) {
  // state 1234567, computed independently (Python, from the published algorithm)
  SplitMix64 r(1234567);
  for (uint64_t want : {6457827717110365317ull, 3203168211198807973ull, 9817491932198370423ull,
                        4593380528125082431ull, 16408922859458223821ull})
    EXPECT_EQ(r.next(), want);
  SplitMix64 d(7);
  for (int i = 0; i < 1000; ++i) EXPECT_LT(d.below(6), 6u);
  EXPECT_EQ(SplitMix64(7).below(1), 0u);
}

// get_state / set_state: a stream saved mid-block continues with the same numbers; a bad state is refused.
TEST(Generator, StateRoundTrip) {
  nerve::Generator g(11);
  for (int i = 0; i < 500; ++i) g();  // inside the second block
  std::vector<uint64_t> st = g.get_state();
  ASSERT_EQ(st.size(), 313u);
  std::vector<uint64_t> want(700);
  for (auto& v : want) v = g();
  nerve::Generator h(99);
  h.set_state(st);
  for (uint64_t v : want) ASSERT_EQ(h(), v);
  st.pop_back();
  EXPECT_THROW(h.set_state(st), nerve::Error);
}
