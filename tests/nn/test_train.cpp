// End to end: small synthetic problems learned to a stated accuracy with nn layers, losses and optimizers.
#include <gtest/gtest.h>
#include <nerve/nerve.h>
#include <nerve/nn/activation.h>
#include <nerve/nn/layers.h>
#include <nerve/nn/loss.h>
#include <nerve/nn/sequential.h>
#include <nerve/optim/optim.h>

#include <cmath>
#include <random>

using namespace nerve;
using Layers = std::vector<std::shared_ptr<nn::Module>>;

namespace {

// n points on two interleaved half circles with Gaussian noise; labels 0 and 1
std::pair<Tensor, Tensor> two_moons(int64_t n, double noise, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> u(0.0, M_PI);
  std::normal_distribution<double> eps(0.0, noise);
  std::vector<float> x;
  std::vector<int64_t> y;
  for (int64_t i = 0; i < n; ++i) {
    int64_t c = i % 2;
    double t = u(g);
    x.push_back(static_cast<float>((c ? 1 - std::cos(t) : std::cos(t)) + eps(g)));
    x.push_back(static_cast<float>((c ? 0.5 - std::sin(t) : std::sin(t)) + eps(g)));
    y.push_back(c);
  }
  return {from_vector(x, {n, 2}), from_vector(y, {n})};
}

double accuracy(const Tensor& scores, const Tensor& y) {
  return mean(eq(argmax(scores, 1), y).to(DType::f32)).item<float>();
}

}  // namespace

TEST(Train, TwoMoonsMlpWithAdamReaches97Percent) {
  manual_seed(0);
  auto [x, y] = two_moons(512, 0.1, 0);
  auto [xt, yt] = two_moons(256, 0.1, 1);
  auto model = std::make_shared<nn::Sequential>(
      Layers{std::make_shared<nn::Linear>(2, 32), std::make_shared<nn::Tanh>(), std::make_shared<nn::Linear>(32, 2)});
  optim::Adam opt(model->parameters(), {.lr = 0.05});
  nn::CrossEntropyLoss loss_fn;
  double first = 0, last = 0;
  for (int step = 0; step < 200; ++step) {
    opt.zero_grad();
    Tensor loss = loss_fn((*model)(x), y);
    loss.backward();
    opt.step();
    (step == 0 ? first : last) = loss.item<float>();
  }
  NoGradGuard g;
  model->eval();
  EXPECT_LT(last, 0.1 * first);
  EXPECT_GE(accuracy((*model)(xt), yt), 0.97);  // held-out points
}

TEST(Train, XorWithBceLogitsAndSgdMomentum) {
  manual_seed(3);
  Tensor x = tensor({{0.f, 0.f}, {0.f, 1.f}, {1.f, 0.f}, {1.f, 1.f}});
  Tensor y = tensor({0.f, 1.f, 1.f, 0.f}).reshape({4, 1});
  nn::Sequential model{std::make_shared<nn::Linear>(2, 8), std::make_shared<nn::Tanh>(),
                       std::make_shared<nn::Linear>(8, 1)};
  optim::SGD opt(model.parameters(), {.lr = 0.5, .momentum = 0.9});
  optim::StepLR sched(opt, 200, 0.5);
  Tensor loss;
  for (int step = 0; step < 600; ++step) {
    opt.zero_grad();
    loss = F::binary_cross_entropy_with_logits(model(x), y);
    loss.backward();
    opt.step();
    sched.step();
  }
  EXPECT_LT(loss.item<float>(), 0.05);
  Tensor pred = gt(model(x), zeros({}));
  EXPECT_EQ(pred.to(DType::f32).reshape({4}).to_vector<float>(), (std::vector<float>{0, 1, 1, 0}));
}

TEST(Train, KerasStyleSoftmaxBlobsWithDropout) {
  // three Gaussian blobs, a model ending in Softmax trained on probabilities (Keras's
  // sparse_categorical_crossentropy), and the same model trained on the logits before the Softmax
  manual_seed(5);
  int64_t n = 300;
  Tensor centers = tensor({{0.f, 3.f}, {3.f, -2.f}, {-3.f, -2.f}});
  Tensor y = randint(0, 3, {n});
  Tensor x = index_select(centers, 0, y) + randn({n, 2});
  for (bool fuse : {false, true}) {
    manual_seed(6);
    auto model = std::make_shared<nn::Sequential>(
        Layers{std::make_shared<nn::Linear>(2, 16), std::make_shared<nn::ReLU>(), std::make_shared<nn::Dropout>(0.1),
               std::make_shared<nn::Linear>(16, 3), std::make_shared<nn::Softmax>(-1)});
    optim::RMSprop opt(model->parameters(), {.lr = 0.01});
    auto body = model->slice(0, -1);
    for (int step = 0; step < 150; ++step) {
      opt.zero_grad();
      Tensor loss = fuse ? F::sparse_categorical_crossentropy_from_logits((*body)(x), y)
                         : F::sparse_categorical_crossentropy((*model)(x), y);
      loss.backward();
      opt.step();
    }
    NoGradGuard g;
    model->eval();
    EXPECT_GE(accuracy((*model)(x), y), 0.93) << (fuse ? "fused" : "probabilities");
  }
}
