// conv2d f32 through oneDNN (backend/cpu/dnnl_conv) against the im2col + GEMM path it replaces: forward, input,
// weight and bias gradients over strides, paddings ("same" with uneven padding too), dilations, groups, depthwise,
// odd sizes, batch 1 and batches cut into uneven pieces. Also: the backend takes these shapes (so the comparison
// is not im2col against itself), and the switch back to im2col.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include <nerve/nerve.h>

#include "backend/cpu/dnnl_conv.h"

using namespace nerve;

namespace {

struct Case {
  int64_t N, C, O, H, W, kh, kw;
  Shape stride;
  ConvPadding padding;
  Shape dilation;
  int64_t groups;
  bool bias;
};

struct Result {
  Tensor y, gx, gw, gb;
};

Result run(const Case& c, bool dnnl) {
  cpu::set_dnnl_conv_enabled(dnnl);
  manual_seed(11);
  Tensor x = randn({c.N, c.C, c.H, c.W}).requires_grad_();
  Tensor w = randn({c.O, c.C / c.groups, c.kh, c.kw}).requires_grad_();
  Tensor b = c.bias ? randn({c.O}).requires_grad_() : Tensor();
  Tensor y = conv2d(x, w, b, c.stride, c.padding, c.dilation, c.groups);
  Tensor dy = randn(y.shape());
  sum(mul(y, dy)).backward();
  cpu::set_dnnl_conv_enabled(true);
  return {y.detach(), x.grad(), w.grad(), c.bias ? b.grad() : Tensor()};
}

// |a - b| <= tol * (1 + max |b|) elementwise
void expect_close(const Tensor& a, const Tensor& b, const char* what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  const Tensor ac = a.contiguous(), bc = b.contiguous();
  const float* pa = ac.data<float>();
  const float* pb = bc.data<float>();
  float scale = 0.f;
  for (int64_t i = 0; i < bc.numel(); ++i) scale = std::max(scale, std::fabs(pb[i]));
  for (int64_t i = 0; i < bc.numel(); ++i)
    ASSERT_LE(std::fabs(pa[i] - pb[i]), 2e-5f * (1.f + scale)) << what << " element " << i << ": " << pa[i] << " vs "
                                                               << pb[i];
}

const Case kCases[] = {
    {2, 3, 4, 7, 9, 3, 3, {1}, {1}, {1}, 1, true},
    {1, 5, 6, 8, 8, 3, 3, {2}, {1}, {1}, 1, false},           // batch 1, stride 2
    {3, 4, 8, 11, 10, 3, 2, {2, 1}, {1, 0}, {1}, 1, true},    // rectangular kernel, stride, padding
    {2, 6, 6, 9, 9, 3, 3, {1}, {2}, {2}, 1, true},            // dilation
    {2, 6, 9, 8, 7, 3, 3, {1}, {1}, {1}, 3, true},            // groups
    {4, 8, 8, 10, 10, 3, 3, {2}, {1}, {1}, 8, true},          // depthwise, stride 2
    {2, 4, 8, 9, 9, 3, 3, {1}, {1}, {1}, 4, false},           // depthwise multiplier 2
    {2, 4, 5, 8, 9, 4, 2, {1}, ConvPadding("same"), {1}, 1, true},  // "same" with uneven padding
    {2, 4, 5, 6, 6, 1, 1, {1}, {0}, {1}, 1, true},            // 1x1
    {2, 3, 4, 10, 10, 5, 5, {3}, {0}, {1}, 1, true},          // stride 3, rows left over at the bottom
    {10, 16, 24, 20, 20, 3, 3, {1}, {1}, {1}, 1, true},       // large enough for several (uneven) pieces
    {9, 32, 32, 12, 12, 3, 3, {1}, {1}, {1}, 32, false},      // depthwise in pieces
};

}  // namespace

TEST(ConvDnnl, MatchesIm2col) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(::testing::Message() << "N" << c.N << " C" << c.C << " O" << c.O << " " << c.H << "x" << c.W
                                      << " k" << c.kh << "x" << c.kw << " groups " << c.groups);
    const Result fast = run(c, true), ref = run(c, false);
    expect_close(fast.y, ref.y, "y");
    expect_close(fast.gx, ref.gx, "dx");
    expect_close(fast.gw, ref.gw, "dw");
    if (c.bias) expect_close(fast.gb, ref.gb, "db");
  }
}

TEST(ConvDnnl, BackendTakesTheShapes) {
  // the geometry of kCases[4] (groups 3) and a depthwise one: oneDNN runs them (no fallback)
  for (const cpu::ConvShape& s : {cpu::ConvShape{2, 6, 9, 3, {8, 7, 3, 3, 1, 1, 1, 1, 1, 1, 8, 7}},
                                  cpu::ConvShape{4, 8, 8, 8, {10, 10, 3, 3, 2, 2, 1, 1, 1, 1, 5, 5}},
                                  cpu::ConvShape{10, 16, 24, 1, {20, 20, 3, 3, 1, 1, 1, 1, 2, 2, 18, 18}}}) {
    std::vector<float> x(s.N * s.C * s.win.H * s.win.W, 0.5f), w(s.O * s.C / s.G * 9, 0.25f), b(s.O, 1.f),
        y(s.N * s.O * s.win.Ho * s.win.Wo), dw(w.size()), db(s.O), dx(x.size());
    ASSERT_TRUE(cpu::dnnl_conv2d_forward(s, x.data(), w.data(), b.data(), y.data()));
    // an interior output: 1 + (C/G * 9 taps) * 0.5 * 0.25
    const int64_t mid = (s.win.Ho / 2) * s.win.Wo + s.win.Wo / 2;
    EXPECT_FLOAT_EQ(y[mid], 1.f + float(s.C / s.G * 9) * 0.125f);
    ASSERT_TRUE(cpu::dnnl_conv2d_backward_data(s, w.data(), y.data(), dx.data()));
    ASSERT_TRUE(cpu::dnnl_conv2d_backward_weights(s, x.data(), y.data(), dw.data(), db.data()));
    double total = 0;
    for (float v : y) total += v;
    EXPECT_NEAR(db[0] * s.O, total, 1e-3 * std::fabs(total));  // all channels alike
  }
  {  // a single image of much work is left to im2col (which splits its GEMMs over the threads)
    const cpu::ConvShape one{1, 64, 64, 1, {32, 32, 3, 3, 1, 1, 1, 1, 1, 1, 32, 32}};
    std::vector<float> x(64 * 32 * 32), w(64 * 64 * 9), y(64 * 32 * 32);
    EXPECT_FALSE(cpu::dnnl_conv2d_forward(one, x.data(), w.data(), nullptr, y.data()));
  }
  cpu::set_dnnl_conv_enabled(false);
  std::vector<float> x(2 * 6 * 8 * 7), w(9 * 2 * 9), y(2 * 9 * 8 * 7);
  EXPECT_FALSE(cpu::dnnl_conv2d_forward({2, 6, 9, 3, {8, 7, 3, 3, 1, 1, 1, 1, 1, 1, 8, 7}}, x.data(), w.data(),
                                        nullptr, y.data()));
  cpu::set_dnnl_conv_enabled(true);
}

namespace {

// the bits of a (NaN equal to NaN)
std::vector<uint32_t> bits(const Tensor& t) {
  const Tensor c = t.contiguous();
  std::vector<uint32_t> v(c.numel());
  std::memcpy(v.data(), c.data<float>(), v.size() * sizeof(float));
  return v;
}

struct FusedCase {
  int64_t N, C, O, H, W, k;
  Shape stride;
  ConvPadding padding;
  int64_t groups;
  bool bias, x_grad;
  bool strided_grad = false;  // the output's gradient arrives through a permute (as from Keras's channels-last view)
};

// y = the op's output and the gradients of sum(y * dy)
Result run_fused(const FusedCase& c, bool fused) {
  manual_seed(5);
  Tensor x = randn({c.N, c.C, c.H, c.W});
  // ties (repeated values, zeros for ReLU) and a NaN, so that the first-maximum rule and relu's mask are exercised
  float* px = x.data<float>();
  for (int64_t i = 0; i < x.numel(); i += 7) px[i] = px[i / 2];
  for (int64_t i = 3; i < x.numel(); i += 11) px[i] = 0.0f;
  if (x.numel() > 40) px[40] = std::nanf("");
  if (c.x_grad) x.requires_grad_();
  Tensor w = randn({c.O, c.C / c.groups, c.k, c.k}).requires_grad_();
  Tensor b = c.bias ? randn({c.O}).requires_grad_() : Tensor();
  Tensor y = fused ? conv2d_relu_max_pool2x2(x, w, b, c.stride, c.padding, {1}, c.groups)
                   : relu(max_pool2d(conv2d(x, w, b, c.stride, c.padding, {1}, c.groups), {2, 2}));
  if (fused) EXPECT_STREQ(y.grad_fn()->name(), "Conv2dReluMaxPoolBackward");  // the fused path ran
  if (c.strided_grad) {
    const Tensor yp = permute(y, {0, 2, 3, 1});
    sum(mul(yp, randn(yp.shape()))).backward();
  } else {
    sum(mul(y, randn(y.shape()))).backward();
  }
  return {y.detach(), c.x_grad ? x.grad() : Tensor(), w.grad(), c.bias ? b.grad() : Tensor()};
}

}  // namespace

// conv2d_relu_max_pool2x2's fused f32 path (the pooling on oneDNN's layout per piece, the gradient built there)
// gives the same bits as conv2d, max_pool2d and relu one after the other: output and every gradient.
TEST(ConvDnnl, FusedReluMaxPoolHasTheBitsOfTheThreeOps) {
  const FusedCase cases[] = {
      {64, 32, 64, 14, 14, 3, {1}, {1}, 1, true, true},   // cnn_fashion's second layer: 8 pieces, blocked layouts
      {64, 1, 32, 28, 28, 3, {1}, {1}, 1, true, false},   // its first: one channel (plain weight gradient), no dx
      {11, 6, 10, 9, 7, 3, {1}, {0}, 1, true, true},      // odd outputs, 10 channels (a padded block), 11 in pieces
      {5, 4, 12, 10, 10, 3, {2}, {1}, 2, false, true},    // groups, stride 2, no bias
      {3, 3, 16, 8, 8, 3, {1}, ConvPadding("same"), 1, true, true},
      {4, 1, 8, 9, 7, 3, {1}, {0}, 1, true, false},                // one channel, odd outputs (7x5)
      {6, 1, 16, 10, 10, 3, {1}, {1}, 1, true, false, true},       // one channel, the gradient strided
      {6, 8, 16, 10, 10, 3, {1}, {1}, 1, true, true, true},        // blocked, the gradient strided
      // rows of more than 16 pooled outputs (the 16-wide tiles of nChw16c: 16 + 4) and 20 channels (16 + 4)
      {3, 5, 20, 8, 40, 3, {1}, {1}, 1, true, true},
      {3, 5, 20, 8, 40, 3, {1}, {1}, 1, true, true, true},
  };
  for (const FusedCase& c : cases) {
    SCOPED_TRACE(::testing::Message() << "N" << c.N << " C" << c.C << " O" << c.O << " " << c.H << "x" << c.W
                                      << " groups " << c.groups);
    const Result f = run_fused(c, true), r = run_fused(c, false);
    EXPECT_EQ(bits(f.y), bits(r.y));
    if (c.x_grad) EXPECT_EQ(bits(f.gx), bits(r.gx));
    EXPECT_EQ(bits(f.gw), bits(r.gw));
    if (c.bias) EXPECT_EQ(bits(f.gb), bits(r.gb));
  }
}

// With oneDNN off (and for f64), the op is the three ops
TEST(ConvDnnl, FusedReluMaxPoolWithoutOneDnnIsTheThreeOps) {
  cpu::set_dnnl_conv_enabled(false);
  manual_seed(3);
  Tensor x = randn({2, 3, 6, 6}), w = randn({4, 3, 3, 3});
  Tensor y = conv2d_relu_max_pool2x2(x, w, Tensor(), {1}, {1});
  EXPECT_EQ(bits(y), bits(relu(max_pool2d(conv2d(x, w, Tensor(), {1}, {1}), {2}))));
  cpu::set_dnnl_conv_enabled(true);
  Tensor xd = x.to(DType::f64), wd = w.to(DType::f64);
  const Tensor yd = conv2d_relu_max_pool2x2(xd, wd, Tensor(), {1}, {1});
  EXPECT_EQ(yd.dtype(), DType::f64);
  EXPECT_LT(max(abs(yd - y.to(DType::f64))).item<double>(), 1e-5);
}
