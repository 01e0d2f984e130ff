// A two-layer network fitted to the two-moons data set by plain gradient descent, using only tensors and
// autograd: the neuron model y = f(sum w_i x_i + b), a loss, backpropagation and an update rule.
#include <cmath>
#include <cstdio>
#include <random>

#include <nerve/nerve.h>

#include "common/cli.h"

using namespace nerve;

// n points on two interleaved half circles with Gaussian noise; labels 0 and 1
static std::pair<Tensor, Tensor> two_moons(int64_t n, double noise, uint64_t seed) {
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

int main(int argc, char** argv) {
  examples::Cli cli("two_moons", "A two-layer network fitted to the two-moons data by plain gradient descent.");
  cli.parse(argc, argv);  // no flags but --help
  manual_seed(0);
  auto [x, y] = two_moons(512, 0.1, 0);
  const int64_t hidden = 32;
  // PyTorch-style init: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
  Tensor w1 = uniform({hidden, 2}, -1 / std::sqrt(2.0), 1 / std::sqrt(2.0)).requires_grad_();
  Tensor b1 = zeros({hidden}).requires_grad_();
  Tensor w2 = uniform({2, hidden}, -1 / std::sqrt(double(hidden)), 1 / std::sqrt(double(hidden))).requires_grad_();
  Tensor b2 = zeros({2}).requires_grad_();
  Tensor y_onehot = one_hot(y, 2).to(DType::f32);
  const double lr = 0.5;
  for (int step = 0; step <= 1000; ++step) {
    Tensor h = tanh(linear(x, w1, b1));
    Tensor logp = log_softmax(linear(h, w2, b2), 1);
    Tensor loss = -mean(sum(logp * y_onehot, {1}));  // cross-entropy
    loss.backward();
    {
      NoGradGuard no_grad;
      for (Tensor* p : {&w1, &b1, &w2, &b2}) {
        p->add_(p->grad(), -lr);  // gradient descent
        p->grad().zero_();
      }
    }
    if (step % 200 == 0) {
      double acc = mean(eq(argmax(logp, 1), y).to(DType::f32)).item<float>();
      std::printf("step %4d  loss %.4f  accuracy %.3f\n", step, loss.item<float>(), acc);
    }
  }
  return 0;
}
