// Vision modules: a small CNN of Conv2d, BatchNorm2d/1d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, GroupNorm,
// LayerNorm gives PyTorch's outputs, gradients and running statistics (train and eval, goldens from
// make_nn_golden.py); parameter and buffer names, init, reprs, gradchecks, train()/eval(), meta, errors.
#include <gtest/gtest.h>
#include <nerve/nerve.h>
#include <nerve/nn/vision.h>

#include <cmath>

#include "golden/golden_reader.h"
#include "nn/nn_test_util.h"

using namespace nerve;
using nerve::testing::all_close;
using nerve::testing::error_of;
using nerve::testing::module_gradcheck;

namespace {

std::shared_ptr<nn::Sequential> golden_cnn(DType d) {
  nn::BatchNormOptions bn{.num_features = 4, .dtype = d};
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Conv2d>(nn::Conv2dOptions{.in = 2, .out = 4, .kernel = 3, .padding = 1, .dtype = d}),
      std::make_shared<nn::BatchNorm2d>(bn), std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2),
      std::make_shared<nn::Conv2d>(nn::Conv2dOptions{
          .in = 4, .out = 4, .kernel = {3, 2}, .padding = "same", .dilation = {1, 2}, .groups = 2, .dtype = d}),
      std::make_shared<nn::GroupNorm>(2, 4, 1e-5, true, d),
      std::make_shared<nn::AvgPool2d>(nn::AvgPool2dOptions{.kernel = 2, .stride = 1, .padding = 1,
                                                           .count_include_pad = false}),
      std::make_shared<nn::AdaptiveAvgPool2d>(1), std::make_shared<nn::Flatten>(),
      std::make_shared<nn::Linear>(4, 3, true, d), std::make_shared<nn::LayerNorm>(Shape{3}, 1e-5, true, d),
      std::make_shared<nn::BatchNorm1d>(nn::BatchNormOptions{.num_features = 3, .dtype = d})});
}

// Conv1d + InstanceNorm1d and ConvTranspose2d + InstanceNorm2d against torch (make_nn_golden.py: c1d, ct2d)
TEST(VisionModules, Conv1dConvTranspose2dInstanceNormMatchPyTorch) {
  auto& G = nerve::golden::tensors_of("golden/nn_golden.txt");
  using M = std::shared_ptr<nn::Module>;
  for (DType d : {DType::f64, DType::f32}) {
    SCOPED_TRACE(dtype_name(d));
    auto c1 = std::make_shared<nn::Sequential>(std::initializer_list<M>{
        std::make_shared<nn::Conv1d>(nn::Conv1dOptions{.in = 2, .out = 4, .kernel = 3, .stride = 2, .padding = 1, .dtype = d}),
        std::make_shared<nn::InstanceNorm1d>(4, 1e-5, 0.1, true, false, d), std::make_shared<nn::ReLU>(),
        std::make_shared<nn::Conv1d>(
            nn::Conv1dOptions{.in = 4, .out = 6, .kernel = 2, .padding = "same", .groups = 2, .bias = false, .dtype = d})});
    auto c2 = std::make_shared<nn::Sequential>(std::initializer_list<M>{
        std::make_shared<nn::ConvTranspose2d>(nn::ConvTranspose2dOptions{
            .in = 2, .out = 4, .kernel = 3, .stride = 2, .padding = 1, .output_padding = 1, .groups = 2, .dtype = d}),
        std::make_shared<nn::InstanceNorm2d>(4, 1e-5, 0.1, true, false, d), std::make_shared<nn::Tanh>(),
        std::make_shared<nn::ConvTranspose2d>(nn::ConvTranspose2dOptions{
            .in = 4, .out = 3, .kernel = {2, 3}, .stride = {1, 2}, .dilation = {2, 1}, .dtype = d}),
        std::make_shared<nn::InstanceNorm2d>(3, 1e-5, 0.1, false, false, d)});
    for (auto [tag, net] : {std::pair<std::string, std::shared_ptr<nn::Sequential>>{"c1d", c1}, {"ct2d", c2}}) {
      SCOPED_TRACE(tag);
      nn::StateDict sd;
      for (const auto& [name, t] : net->state_dict()) sd.emplace_back(name, G(tag + "." + name));
      net->load_state_dict(sd);
      const double tol = d == DType::f64 ? 1e-10 : 2e-4;
      Tensor x = G(tag + ".x", d).requires_grad_();
      Tensor y = (*net)(x);
      EXPECT_TRUE(all_close(y, G(tag + ".y"), tol, tol));
      (y * G(tag + ".up", d)).sum().backward();
      EXPECT_TRUE(all_close(x.grad(), G(tag + ".gx"), tol, tol));
      for (const auto& [name, p] : net->named_parameters())
        EXPECT_TRUE(all_close(p.grad(), G(tag + ".grad." + name), d == DType::f64 ? tol : 2e-3, d == DType::f64 ? tol : 2e-3))
            << name;
    }
  }
  EXPECT_EQ(nn::Conv1d({.in = 2, .out = 4, .kernel = 3, .stride = 2, .padding = 1}).repr(),
            "Conv1d(2, 4, kernel_size=(3,), stride=(2,), padding=(1,))");
  EXPECT_EQ(nn::ConvTranspose2d({.in = 2, .out = 4, .kernel = 3, .stride = 2, .padding = 1, .output_padding = 1}).repr(),
            "ConvTranspose2d(2, 4, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), output_padding=(1, 1))");
  EXPECT_EQ(nn::InstanceNorm2d(8).repr(), "InstanceNorm2d(8, eps=1e-05, momentum=0.1, affine=False, track_running_stats=False)");
  // torch's init bounds: weight U(-b, b) with b = 1/sqrt(fan_in) (kaiming_uniform_, a = sqrt(5)), the bias too
  manual_seed(1);
  nn::ConvTranspose2d big({.in = 64, .out = 32, .kernel = 3});
  const double b = 1.0 / std::sqrt(32.0 * 9);
  EXPECT_LE(big.weight.abs().max().item<double>(), b);
  EXPECT_GT(big.weight.abs().max().item<double>(), 0.95 * b);
  EXPECT_LE(big.bias.abs().max().item<double>(), b);
  // errors and the unbatched input
  EXPECT_NE(error_of([] { nn::InstanceNorm2d(4)(randn({2, 3, 5, 5})); }).find("expected 4 channels"), std::string::npos);
  EXPECT_NE(error_of([] { nn::Conv1d({.in = 3, .out = 4, .kernel = 3, .groups = 2}); }).find("divisible by groups"),
            std::string::npos);
  Tensor u = randn({4, 6, 6});
  EXPECT_TRUE(all_close(nn::InstanceNorm2d(4)(u), nn::InstanceNorm2d(4)(u.unsqueeze(0)).squeeze(0), 0, 0));
  // gradcheck of the modules in f64
  nn::Conv1d gc({.in = 2, .out = 2, .kernel = 2, .stride = 2, .dtype = DType::f64});
  EXPECT_TRUE(module_gradcheck(gc, randn({1, 2, 5}, DType::f64)));
}

// InstanceNorm1d/2d with track_running_stats against torch 1.13 (make_nn_golden.py: inrs1d, inrs2d): running
// statistics after two training forwards, num_batches_tracked left at 0, eval() output and input gradient
TEST(VisionModules, InstanceNormTrackRunningStatsMatchesPyTorch) {
  auto& G = nerve::golden::tensors_of("golden/nn_golden.txt");
  for (DType d : {DType::f64, DType::f32}) {
    SCOPED_TRACE(dtype_name(d));
    const double tol = d == DType::f64 ? 1e-10 : 1e-4;
    std::shared_ptr<nn::InstanceNorm> m1 = std::make_shared<nn::InstanceNorm1d>(3, 1e-5, 0.3, false, true, d);
    std::shared_ptr<nn::InstanceNorm> m2 = std::make_shared<nn::InstanceNorm2d>(4, 1e-5, 0.1, true, true, d);
    for (auto [tag, m] : {std::pair<std::string, std::shared_ptr<nn::InstanceNorm>>{"inrs1d", m1}, {"inrs2d", m2}}) {
      SCOPED_TRACE(tag);
      nn::StateDict sd;
      for (const auto& [name, t] : m->state_dict()) sd.emplace_back(name, G(tag + ".init." + name));
      m->load_state_dict(sd);
      m->train();
      for (int step = 0; step < 2; ++step) {
        const std::string s = std::to_string(step);
        EXPECT_TRUE(all_close((*m)(G(tag + ".x" + s, d)), G(tag + ".y" + s), tol, tol));
        EXPECT_TRUE(all_close(m->running_mean, G(tag + ".running_mean" + s), tol, tol));
        EXPECT_TRUE(all_close(m->running_var, G(tag + ".running_var" + s), tol, tol));
        EXPECT_EQ(m->num_batches_tracked.item<int64_t>(), G(tag + ".num_batches_tracked" + s).item<int64_t>());
      }
      m->eval();
      Tensor x = G(tag + ".xe", d).requires_grad_();
      Tensor y = (*m)(x);
      EXPECT_TRUE(all_close(y, G(tag + ".ye"), tol, tol));
      (y * G(tag + ".up", d)).sum().backward();
      EXPECT_TRUE(all_close(x.grad(), G(tag + ".gx"), tol, tol));
    }
  }
  EXPECT_EQ(nn::InstanceNorm2d(8, 1e-5, 0.1, false, true).repr(),
            "InstanceNorm2d(8, eps=1e-05, momentum=0.1, affine=False, track_running_stats=True)");
  nn::InstanceNorm1d one(2, 1e-5, 0.1, false, true);
  EXPECT_NE(error_of([&] { one(randn({3, 2, 1})); }).find("more than 1 spatial element"), std::string::npos);
  // the unbatched input updates the statistics as a batch of one
  nn::InstanceNorm2d a(3, 1e-5, 0.1, false, true), b(3, 1e-5, 0.1, false, true);
  Tensor u = randn({3, 4, 5});
  a(u);
  b(u.unsqueeze(0));
  EXPECT_TRUE(all_close(a.running_var, b.running_var, 0, 0));
}

TEST(VisionModules, SmallCnnMatchesPyTorch) {
  auto& G = nerve::golden::tensors_of("golden/nn_golden.txt");
  for (DType d : {DType::f64, DType::f32}) {
    SCOPED_TRACE(dtype_name(d));
    auto net = golden_cnn(d);
    nn::StateDict sd;
    for (const auto& [name, t] : net->state_dict()) sd.emplace_back(name, G("cnn." + name));
    net->load_state_dict(sd);
    const double tol = d == DType::f64 ? 1e-10 : 2e-4;
    Tensor x = G("cnn.x", d).requires_grad_();
    Tensor y = (*net)(x);
    EXPECT_TRUE(all_close(y, G("cnn.y"), tol, tol));
    (y * G("cnn.up", d)).sum().backward();
    EXPECT_TRUE(all_close(x.grad(), G("cnn.gx"), tol, tol));
    // f32 parameter gradients: LayerNorm(3) then BatchNorm1d over a batch of 3 amplify rounding (the first conv's
    // bias gradient is 0 in exact arithmetic and ~4e-3 in nerve's f32); f64 checks them to 1e-10
    const double gtol = d == DType::f64 ? tol : 1e-2;
    for (const auto& [name, p] : net->named_parameters())
      EXPECT_TRUE(all_close(p.grad(), G("cnn.grad." + name), gtol, gtol)) << name;
    for (const auto& [name, b] : net->named_buffers()) {
      if (name.find("num_batches") != std::string::npos)
        EXPECT_EQ(b.item<int64_t>(), G("cnn.after." + name).item<int64_t>()) << name;
      else
        EXPECT_TRUE(all_close(b, G("cnn.after." + name), tol, tol)) << name;
    }
    net->eval();
    NoGradGuard g;
    EXPECT_TRUE(all_close((*net)(x), G("cnn.y_eval"), tol, tol));
  }
}

TEST(VisionModules, NamesInitAndRepr) {
  manual_seed(0);
  nn::Conv2d conv({.in = 8, .out = 16, .kernel = 3, .stride = 2, .padding = 1});
  auto names = conv.named_parameters();
  ASSERT_EQ(names.size(), 2u);
  EXPECT_EQ(names[0].first, "weight");
  EXPECT_EQ(conv.weight.shape(), (Shape{16, 8, 3, 3}));
  const double bound = 1.0 / std::sqrt(8.0 * 9.0);  // kaiming_uniform_(a = sqrt(5)) over fan_in = 72
  EXPECT_LE(max(abs(conv.weight)).item<float>(), bound);
  EXPECT_GT(max(abs(conv.weight)).item<float>(), 0.95 * bound);
  EXPECT_LE(max(abs(conv.bias)).item<float>(), bound);
  EXPECT_EQ(conv.repr(), "Conv2d(8, 16, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))");
  nn::Conv2d dw({.in = 4, .out = 4, .kernel = {3, 1}, .padding = "same", .dilation = 2, .groups = 4, .bias = false});
  EXPECT_EQ(dw.weight.shape(), (Shape{4, 1, 3, 1}));
  EXPECT_EQ(dw.repr(), "Conv2d(4, 4, kernel_size=(3, 1), stride=(1, 1), padding=same, dilation=(2, 2), groups=4, bias=False)");
  EXPECT_EQ(nn::MaxPool2d(2).repr(), "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)");
  EXPECT_EQ(nn::AvgPool2d({.kernel = {3, 2}, .stride = 1}).repr(), "AvgPool2d(kernel_size=(3, 2), stride=1, padding=0)");
  EXPECT_EQ(nn::AdaptiveAvgPool2d(1).repr(), "AdaptiveAvgPool2d(output_size=1)");
  nn::BatchNorm2d bn(32);
  EXPECT_EQ(bn.repr(), "BatchNorm2d(32, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)");
  std::vector<std::string> keys;
  for (const auto& [k, v] : bn.state_dict()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}));
  EXPECT_EQ(bn.num_parameters(), 64);
  EXPECT_EQ(nn::BatchNorm1d({.num_features = 3, .affine = false, .track_running_stats = false}).state_dict().size(), 0u);
  EXPECT_EQ(nn::LayerNorm({5}).repr(), "LayerNorm((5,), eps=1e-05, elementwise_affine=True)");
  EXPECT_EQ(nn::GroupNorm(2, 4).repr(), "GroupNorm(2, 4, eps=1e-05, affine=True)");
}

TEST(VisionModules, Gradcheck) {
  manual_seed(4);
  nn::Conv2d conv({.in = 4, .out = 6, .kernel = {2, 3}, .stride = {1, 2}, .padding = 1, .groups = 2,
                   .dtype = DType::f64});
  EXPECT_TRUE(module_gradcheck(conv, randn({2, 4, 5, 5}, DType::f64)));
  nn::BatchNorm2d bn({.num_features = 3, .dtype = DType::f64});
  nn::init::uniform_(bn.weight, 0.5, 1.5);
  EXPECT_TRUE(module_gradcheck(bn, randn({2, 3, 2, 3}, DType::f64)));
  nn::GroupNorm gn(2, 4, 1e-5, true, DType::f64);
  EXPECT_TRUE(module_gradcheck(gn, randn({2, 4, 3}, DType::f64)));
}

TEST(VisionModules, BatchNormTrainEval) {
  manual_seed(5);
  nn::BatchNorm2d bn(2);
  Tensor x = randn({4, 2, 3, 3}) * 3.0 + 1.0;
  Tensor y = bn(x);  // training: each channel of y has mean 0, variance 1 (biased)
  EXPECT_TRUE(all_close(mean(y, {0, 2, 3}), zeros({2}), 1e-5, 0));
  EXPECT_TRUE(all_close(var(y, {0, 2, 3}, 0), ones({2}), 1e-3, 0));
  EXPECT_EQ(bn.num_batches_tracked.item<int64_t>(), 1);
  Tensor want_rm = mean(x, {0, 2, 3}) * 0.1;
  Tensor want_rv = var(x, {0, 2, 3}) * 0.1 + 0.9;  // unbiased
  EXPECT_TRUE(all_close(bn.running_mean, want_rm, 1e-5, 1e-5));
  EXPECT_TRUE(all_close(bn.running_var, want_rv, 1e-5, 1e-5));
  bn.eval();
  Tensor ye = bn(x);  // eval: the running statistics, no update
  EXPECT_TRUE(all_close(ye, (x - want_rm.reshape({1, 2, 1, 1})) / sqrt(want_rv.reshape({1, 2, 1, 1}) + 1e-5), 1e-5, 1e-5));
  EXPECT_EQ(bn.num_batches_tracked.item<int64_t>(), 1);
  EXPECT_EQ(error_of([&] { bn(zeros({4, 2, 3})); }), "BatchNorm2d: expected a 4-D input (N, C, H, W), got [4, 2, 3]");
  EXPECT_EQ(error_of([&] { bn(zeros({4, 3, 2, 2})); }), "BatchNorm2d: input has 3 channels, expected 2 (input [4, 3, 2, 2])");
}

TEST(VisionModules, Dropout2dDropsWholeChannels) {
  manual_seed(6);
  nn::Dropout2d drop(0.5);
  EXPECT_EQ(drop.repr(), "Dropout2d(p=0.5, inplace=False)");
  Tensor x = ones({8, 16, 3, 3});
  Tensor y = drop(x);
  std::vector<float> v = y.to_vector<float>();
  int64_t dropped = 0;
  for (int64_t c = 0; c < 8 * 16; ++c) {
    const float first = v[static_cast<size_t>(c * 9)];
    EXPECT_TRUE(first == 0.f || first == 2.f) << first;
    for (int k = 1; k < 9; ++k) EXPECT_EQ(v[static_cast<size_t>(c * 9 + k)], first) << "channel " << c;
    dropped += first == 0.f;
  }
  EXPECT_GT(dropped, 40);  // about half of 128
  EXPECT_LT(dropped, 88);
  drop.eval();
  EXPECT_TRUE(all_close(drop(x), x, 0, 0));
  Tensor xg = randn({2, 3, 4}).requires_grad_();  // the gradient is the same mask
  Tensor yg = nn::F::dropout2d(xg, 0.3);
  yg.sum().backward();
  EXPECT_TRUE(all_close(xg.grad() * xg, yg, 1e-6, 1e-6));
}

TEST(VisionModules, UpsampleAndAdaptiveMax) {
  manual_seed(7);
  Tensor x = randn({1, 2, 3, 4});
  EXPECT_TRUE(all_close(nn::Upsample({.scale_factor = 2.0})(x), interpolate(x, {}, "nearest", false, 2.0), 0, 0));
  EXPECT_TRUE(all_close(nn::Upsample({.size = {5, 6}, .mode = "bilinear"})(x), interpolate(x, {5, 6}, "bilinear"), 0, 0));
  EXPECT_EQ(nn::Upsample({.size = {5, 6}})(x).shape(), (Shape{1, 2, 5, 6}));
  EXPECT_TRUE(all_close(nn::AdaptiveMaxPool2d(1)(x), amax(x, {2, 3}, true), 0, 0));
  EXPECT_EQ(nn::AdaptiveMaxPool2d({2, 3}).repr(), "AdaptiveMaxPool2d(output_size=(2, 3), return_indices=False)");
}

TEST(VisionModules, MetaShapes) {
  DeviceGuard meta(Device::meta);
  auto net = golden_cnn(DType::f32);
  Tensor x = randn({5, 2, 9, 8}).requires_grad_();
  ASSERT_TRUE(x.is_meta());
  Tensor y = (*net)(x);
  EXPECT_TRUE(y.is_meta());
  EXPECT_EQ(y.shape(), (Shape{5, 3}));
  y.sum().backward();
  EXPECT_EQ(x.grad().shape(), x.shape());
  for (const auto& [name, p] : net->named_parameters()) {
    EXPECT_TRUE(p.grad().is_meta()) << name;
    EXPECT_EQ(p.grad().shape(), p.shape()) << name;
  }
}

}  // namespace
