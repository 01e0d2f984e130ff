// nn layers: Linear (init, PyTorch goldens, gradcheck), Flatten, activations, Dropout, Sequential (names,
// state_dict round trip, slicing), nn::init, reprs matching PyTorch.
#include <gtest/gtest.h>
#include <nerve/nerve.h>
#include <nerve/nn/activation.h>
#include <nerve/nn/init.h>
#include <nerve/nn/layers.h>
#include <nerve/nn/loss.h>
#include <nerve/nn/sequential.h>

#include <cmath>

#include "golden/golden_reader.h"
#include "nn/nn_test_util.h"

using namespace nerve;
using nerve::testing::all_close;
using nerve::testing::error_of;
using nerve::testing::module_gradcheck;
using Layers = std::vector<std::shared_ptr<nn::Module>>;

namespace {
double max_abs(const Tensor& t) { return max(abs(t)).to(DType::f64).item<double>(); }
}  // namespace

TEST(Linear, DefaultInitIsPyTorchs) {
  manual_seed(0);
  nn::Linear fc(100, 50);
  EXPECT_EQ(fc.weight.shape(), (Shape{50, 100}));
  EXPECT_EQ(fc.bias.shape(), (Shape{50}));
  EXPECT_TRUE(fc.weight.requires_grad());
  double bound = 1.0 / std::sqrt(100.0);
  // U(-b, b): inside the bound, close to it at the extremes, variance b^2 / 3
  EXPECT_LE(max_abs(fc.weight), bound);
  EXPECT_GT(max_abs(fc.weight), 0.98 * bound);
  EXPECT_LE(max_abs(fc.bias), bound);
  double var = nerve::var(fc.weight).item<float>();
  EXPECT_NEAR(var, bound * bound / 3, 0.05 * bound * bound / 3);
  EXPECT_NEAR(mean(fc.weight).item<float>(), 0.0, 0.01 * bound);
  manual_seed(0);
  nn::Linear again(100, 50);
  EXPECT_TRUE(all_close(again.weight, fc.weight, 0, 0));
  EXPECT_TRUE(all_close(again.bias, fc.bias, 0, 0));
}

TEST(Linear, NamesOptionsAndErrors) {
  nn::Linear fc({.in = 3, .out = 2, .bias = false});
  auto named = fc.named_parameters();
  ASSERT_EQ(named.size(), 1u);
  EXPECT_EQ(named[0].first, "weight");
  EXPECT_FALSE(fc.bias.defined());
  EXPECT_EQ(fc.num_parameters(), 6);
  auto fc2 = std::make_shared<nn::Linear>(784, 128);
  EXPECT_EQ(fc2->num_parameters(), 784 * 128 + 128);
  EXPECT_EQ(fc2->in_features(), 784);
  EXPECT_EQ(error_of([&] {
              (*fc2)(zeros({32, 783}));
            }),
            "linear: input last dim 783 != in_features 784 (input [32, 783] f32, weight [128, 784] f32)");
}

TEST(Linear, MatchesPyTorch) {
  auto& G = nerve::golden::tensors_of("golden/nn_golden.txt");
  for (DType d : {DType::f64, DType::f32}) {
    nn::Linear fc(4, 3, true, d);
    fc.load_state_dict({{"weight", G("linear.w")}, {"bias", G("linear.b")}});
    Tensor x = G("linear.x", d).requires_grad_();
    Tensor y = fc(x);
    (y * G("linear.up", d)).sum().backward();
    double tol = d == DType::f64 ? 1e-12 : 1e-5;
    EXPECT_TRUE(all_close(y, G("linear.y"), tol, tol));
    EXPECT_TRUE(all_close(x.grad(), G("linear.gx"), tol, tol));
    EXPECT_TRUE(all_close(fc.weight.grad(), G("linear.gw"), tol, tol));
    EXPECT_TRUE(all_close(fc.bias.grad(), G("linear.gb"), tol, tol));
  }
}

TEST(Linear, Gradcheck) {
  manual_seed(1);
  nn::Linear fc(5, 3, true, DType::f64);
  EXPECT_TRUE(module_gradcheck(fc, randn({4, 5}, DType::f64)));
  EXPECT_TRUE(module_gradcheck(fc, randn({2, 3, 5}, DType::f64)));  // leading batch dims
  nn::Linear nob(5, 2, false, DType::f64);
  EXPECT_TRUE(module_gradcheck(nob, randn({3, 5}, DType::f64)));
}

TEST(Layers, ActivationsAndFlatten) {
  manual_seed(2);
  Tensor x = randn({3, 4}, DType::f64);
  EXPECT_TRUE(all_close(nn::ReLU()(x), relu(x), 0, 0));
  EXPECT_TRUE(all_close(nn::LeakyReLU(0.2)(x), leaky_relu(x, 0.2), 0, 0));
  EXPECT_TRUE(all_close(nn::Sigmoid()(x), sigmoid(x), 0, 0));
  EXPECT_TRUE(all_close(nn::Tanh()(x), tanh(x), 0, 0));
  EXPECT_TRUE(all_close(nn::GELU()(x), gelu(x), 0, 0));
  EXPECT_TRUE(all_close(nn::Softmax(0)(x), softmax(x, 0), 0, 0));
  EXPECT_TRUE(all_close(nn::LogSoftmax()(x), log_softmax(x, 1), 0, 0));
  EXPECT_TRUE(all_close(sum(nn::Softmax()(x), {1}), ones({3}, DType::f64), 1e-12, 0));
  EXPECT_TRUE(all_close(nn::GELU("tanh")(x), gelu(x, "tanh"), 0, 0));
  EXPECT_EQ(error_of([] { nn::GELU("fast"); }), "GELU: approximate must be 'none' or 'tanh', got 'fast'");
  Tensor img = zeros({2, 3, 4, 5});
  EXPECT_EQ(nn::Flatten()(img).shape(), (Shape{2, 60}));
  EXPECT_EQ(nn::Flatten(0, 1)(img).shape(), (Shape{6, 4, 5}));
  EXPECT_EQ(nn::Flatten(1, 2)(img).shape(), (Shape{2, 12, 5}));
  EXPECT_TRUE(all_close(nn::Identity()(x), x, 0, 0));
}

TEST(Layers, GradcheckActivationStack) {
  manual_seed(3);
  nn::Sequential net{std::make_shared<nn::Flatten>(),  std::make_shared<nn::Linear>(6, 5, true, DType::f64),
                     std::make_shared<nn::Tanh>(),     std::make_shared<nn::Linear>(5, 5, true, DType::f64),
                     std::make_shared<nn::GELU>(),     std::make_shared<nn::Linear>(5, 4, true, DType::f64),
                     std::make_shared<nn::Sigmoid>(),  std::make_shared<nn::LeakyReLU>(0.1),
                     std::make_shared<nn::Softmax>(1), std::make_shared<nn::LogSoftmax>(1)};
  EXPECT_TRUE(module_gradcheck(net, randn({3, 2, 3}, DType::f64)));
  nn::Sequential relu_net{std::make_shared<nn::Linear>(4, 6, true, DType::f64), std::make_shared<nn::ReLU>(),
                          std::make_shared<nn::Linear>(6, 2, true, DType::f64)};
  EXPECT_TRUE(module_gradcheck(relu_net, randn({5, 4}, DType::f64)));
}

TEST(Dropout, ScalingEvalAndSeed) {
  Tensor x = ones({100000});
  nn::Dropout drop(0.3);
  manual_seed(123);
  Tensor y1 = drop(x);
  manual_seed(123);
  Tensor y2 = drop(x);
  EXPECT_TRUE(all_close(y1, y2, 0, 0));  // deterministic by seed
  Tensor y3 = drop(x);
  EXPECT_FALSE(all_close(y1, y3, 0, 0));
  // every element is 0 or 1/(1-p); about p of them are 0; the mean is preserved
  auto v = y1.to_vector<float>();
  int64_t zeros_n = 0;
  for (float e : v) {
    ASSERT_TRUE(e == 0.f || std::abs(e - 1.f / 0.7f) < 1e-6f) << e;
    zeros_n += e == 0.f;
  }
  EXPECT_NEAR(static_cast<double>(zeros_n) / 100000.0, 0.3, 0.01);
  EXPECT_NEAR(mean(y1).item<float>(), 1.0, 0.02);
  drop.eval();
  Tensor ye = drop(x);
  EXPECT_EQ(ye.storage(), x.storage());  // identity, no copy
  drop.train();
  EXPECT_TRUE(all_close(nn::Dropout(0.0)(x), x, 0, 0));
  EXPECT_TRUE(all_close(nn::Dropout(1.0)(x), zeros({100000}), 0, 0));
  EXPECT_EQ(error_of([] { nn::Dropout(1.5); }), "Dropout: probability has to be between 0 and 1, but got 1.5");
}

TEST(Dropout, BackwardUsesTheMask) {
  manual_seed(5);
  Tensor x = randn({50}, DType::f64).requires_grad_();
  Tensor y = F::dropout(x, 0.5, true);
  y.sum().backward();
  auto g = x.grad().to_vector<double>(), yv = y.to_vector<double>(), xv = x.to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i) EXPECT_DOUBLE_EQ(yv[i], xv[i] * g[i]);  // y = x * mask, grad = mask
  auto f = [](const std::vector<Tensor>& in) {
    manual_seed(7);  // the same mask on every evaluation
    return F::dropout(in[0], 0.4, true);
  };
  auto res = gradcheck(f, {randn({4, 5}, DType::f64)});
  EXPECT_TRUE(res.ok) << res.message;
}

TEST(Sequential, NamesIndexingAndForward) {
  manual_seed(4);
  auto model = std::make_shared<nn::Sequential>();
  auto fc1 = model->push_back(std::make_shared<nn::Linear>(4, 8));
  model->add(std::make_shared<nn::ReLU>());
  auto fc2 = model->push_back(std::make_shared<nn::Linear>(8, 3));
  model->push_back(std::make_shared<nn::Softmax>(1));
  EXPECT_EQ(model->size(), 4u);
  std::vector<std::string> keys;
  for (auto& [k, v] : model->state_dict()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"}));
  EXPECT_EQ(model->at(0), fc1);
  EXPECT_EQ((*model)[-2], fc2);
  EXPECT_NE(std::dynamic_pointer_cast<nn::Softmax>(model->at(-1)), nullptr);
  EXPECT_NE(error_of([&] { model->at(4); }), "");
  Tensor x = randn({5, 4});
  Tensor logits = fc2->forward(relu(fc1->forward(x)));
  EXPECT_TRUE(all_close((*model)(x), softmax(logits, 1), 1e-6, 0));
  auto body = model->slice(0, -1);  // shares the layers
  EXPECT_EQ(body->size(), 3u);
  EXPECT_EQ(body->at(2), fc2);
  EXPECT_TRUE(all_close((*body)(x), logits, 0, 0));
  model->eval();
  EXPECT_FALSE(fc1->is_training());
}

TEST(Sequential, StateDictRoundTrip) {
  auto make = [](uint64_t seed) {
    manual_seed(seed);
    return std::make_shared<nn::Sequential>(
        Layers{std::make_shared<nn::Linear>(3, 5), std::make_shared<nn::Tanh>(), std::make_shared<nn::Linear>(5, 2)});
  };
  auto a = make(1), b = make(2);
  Tensor x = randn({4, 3});
  EXPECT_FALSE(all_close((*a)(x), (*b)(x), 1e-6, 0));
  auto sd = a->state_dict();
  ASSERT_EQ(sd.size(), 4u);
  EXPECT_EQ(sd[2].first, "2.weight");
  Tensor w_handle = std::dynamic_pointer_cast<nn::Linear>(b->at(0))->weight;
  b->load_state_dict(sd);
  EXPECT_TRUE(all_close((*a)(x), (*b)(x), 0, 0));
  EXPECT_TRUE(all_close(w_handle, sd[0].second, 0, 0));  // loaded in place: old handles see the new values
  nn::StateDict missing(sd.begin(), sd.begin() + 3);
  EXPECT_EQ(error_of([&] { b->load_state_dict(missing); }), "load_state_dict: Sequential: missing keys: '2.bias' ([2] f32)");
}

TEST(Sequential, MatchesPyTorchMlp) {
  auto& G = nerve::golden::tensors_of("golden/nn_golden.txt");
  nn::Sequential seq{std::make_shared<nn::Linear>(4, 8, true, DType::f64), std::make_shared<nn::ReLU>(),
                     std::make_shared<nn::Linear>(8, 3, true, DType::f64)};
  nn::StateDict sd;
  for (const char* k : {"0.weight", "0.bias", "2.weight", "2.bias"}) sd.emplace_back(k, G(std::string("seq.") + k));
  seq.load_state_dict(sd);
  Tensor loss = F::cross_entropy(seq(G("seq.x")), G("seq.y"));
  loss.backward();
  EXPECT_TRUE(all_close(loss, G("seq.loss"), 1e-12, 1e-12));
  for (auto& [k, p] : seq.named_parameters()) EXPECT_TRUE(all_close(p.grad(), G("seq.grad." + k), 1e-12, 1e-10)) << k;
}

TEST(Repr, MatchesPyTorch) {
  nn::Sequential m{std::make_shared<nn::Flatten>(),
                   std::make_shared<nn::Linear>(784, 128),
                   std::make_shared<nn::ReLU>(),
                   std::make_shared<nn::Dropout>(0.2),
                   std::make_shared<nn::LeakyReLU>(),
                   std::make_shared<nn::GELU>(),
                   std::make_shared<nn::Linear>(128, 10, false),
                   std::make_shared<nn::Softmax>(1),
                   std::make_shared<nn::Sigmoid>(),
                   std::make_shared<nn::Tanh>(),
                   std::make_shared<nn::LogSoftmax>(-1),
                   std::make_shared<nn::Identity>()};
  // print(repr(nn.Sequential(...))) from PyTorch 1.13
  EXPECT_EQ(m.repr(),
            "Sequential(\n"
            "  (0): Flatten(start_dim=1, end_dim=-1)\n"
            "  (1): Linear(in_features=784, out_features=128, bias=True)\n"
            "  (2): ReLU()\n"
            "  (3): Dropout(p=0.2, inplace=False)\n"
            "  (4): LeakyReLU(negative_slope=0.01)\n"
            "  (5): GELU(approximate='none')\n"
            "  (6): Linear(in_features=128, out_features=10, bias=False)\n"
            "  (7): Softmax(dim=1)\n"
            "  (8): Sigmoid()\n"
            "  (9): Tanh()\n"
            "  (10): LogSoftmax(dim=-1)\n"
            "  (11): Identity()\n"
            ")");
  // Python's repr(float) for the slopes below
  std::vector<std::pair<double, std::string>> floats{{0.01, "0.01"},
                                                     {1e-05, "1e-05"},
                                                     {0.2, "0.2"},
                                                     {1.0, "1.0"},
                                                     {100.0, "100.0"},
                                                     {1e16, "1e+16"},
                                                     {0.0001, "0.0001"},
                                                     {123456.789, "123456.789"},
                                                     {1.0 / 3.0, "0.3333333333333333"},
                                                     {-2.5e-7, "-2.5e-07"},
                                                     {0.0, "0.0"}};
  for (auto& [v, s] : floats) EXPECT_EQ(nn::LeakyReLU(v).repr(), "LeakyReLU(negative_slope=" + s + ")");
  EXPECT_EQ(nn::CrossEntropyLoss().repr(), "CrossEntropyLoss()");
}

TEST(Init, Initializers) {
  manual_seed(9);
  Tensor w = empty({256, 512});
  nn::init::xavier_uniform_(w);
  double b = std::sqrt(6.0 / (256 + 512));
  EXPECT_LE(max_abs(w), b);
  EXPECT_GT(max_abs(w), 0.99 * b);
  nn::init::kaiming_normal_(w, 0.0, nn::init::FanMode::fan_in, nn::init::Nonlinearity::relu);
  EXPECT_NEAR(std::sqrt(nerve::var(w).item<float>()), std::sqrt(2.0 / 512), 0.02 * std::sqrt(2.0 / 512));
  nn::init::kaiming_uniform_(w, 0.0, nn::init::FanMode::fan_out);
  double kb = std::sqrt(3.0) * std::sqrt(2.0) / std::sqrt(256.0);
  EXPECT_LE(max_abs(w), kb);
  EXPECT_GT(max_abs(w), 0.99 * kb);
  nn::init::xavier_normal_(w, 2.0);
  EXPECT_NEAR(std::sqrt(nerve::var(w).item<float>()), 2.0 * std::sqrt(2.0 / 768), 0.02 * 2.0 * std::sqrt(2.0 / 768));
  nn::init::normal_(w, 3.0, 0.5);
  EXPECT_NEAR(mean(w).item<float>(), 3.0, 0.01);
  nn::init::uniform_(w, 2.0, 4.0);
  EXPECT_GE(min(w).item<float>(), 2.0f);
  EXPECT_LT(max(w).item<float>(), 4.0f);
  nn::init::zeros_(w);
  EXPECT_EQ(max_abs(w), 0.0);
  nn::init::ones_(w);
  EXPECT_EQ(sum(w).item<float>(), 256.f * 512.f);
  nn::init::constant_(w, 0.25);
  EXPECT_EQ(max(w).item<float>(), 0.25f);
  Tensor conv = empty({8, 3, 5, 5});
  EXPECT_EQ(nn::init::calculate_fan_in_and_fan_out(conv), (std::pair<int64_t, int64_t>{75, 200}));
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain(nn::init::Nonlinearity::tanh), 5.0 / 3.0);
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain(nn::init::Nonlinearity::leaky_relu, std::sqrt(5.0)), std::sqrt(1.0 / 3.0));
  EXPECT_NE(error_of([] { nn::init::xavier_uniform_(empty({5})); }), "");
  Tensor p = zeros({3}).requires_grad_();
  nn::init::ones_(p);  // in place on a leaf that requires grad: allowed (NoGradGuard inside)
  EXPECT_EQ(sum(p).item<float>(), 3.f);
}
