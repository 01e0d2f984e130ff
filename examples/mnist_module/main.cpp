// The same classifier as mnist_mlp through the PyTorch-style door: a user-written nn::Module, a DataLoader,
// F::cross_entropy, optim::Adam and an explicit training loop. Usage: mnist_module [--data DIR] [--epochs N] [--threads N]
#include <cstdio>
#include <string>

#include <nerve/nerve.h>

#include "common/cli.h"

using namespace nerve;

struct Net : nn::Module {
  std::shared_ptr<nn::Linear> fc1 = register_module("fc1", std::make_shared<nn::Linear>(784, 128));
  std::shared_ptr<nn::Linear> fc2 = register_module("fc2", std::make_shared<nn::Linear>(128, 10));
  Tensor forward(const Tensor& x) override { return (*fc2)(relu((*fc1)(x.flatten(1)))); }
};

int main(int argc, char** argv) try {
  std::string dir;
  int epochs = 2, threads = 0;
  examples::Cli cli("mnist_module", "The MNIST classifier as a PyTorch-style nn::Module with an explicit loop.");
  cli.add("--data", dir, "directory of MNIST-format IDX files (default: Debian's dataset-fashion-mnist)");
  cli.integer("--epochs", epochs, "passes over the training set", 1, 10000);
  cli.threads(threads);
  cli.parse(argc, argv);
  if (threads > 0) set_num_threads(threads);
  manual_seed(0);
  auto train = data::datasets::fashion_mnist(dir, true);
  auto test = data::datasets::fashion_mnist(dir, false);
  auto net = std::make_shared<Net>();
  optim::Adam opt(net->parameters(), {.lr = 1e-3});
  data::DataLoader loader(train.dataset(), {.batch_size = 64, .shuffle = true});  // u8 -> f32 / 255 per batch
  for (int epoch = 0; epoch < epochs; ++epoch) {
    net->train();
    double total = 0;
    for (auto& batch : loader) {
      Tensor loss = F::cross_entropy((*net)(batch.data), batch.target);
      opt.zero_grad();
      loss.backward();
      opt.step();
      total += loss.item<double>();
    }
    net->eval();
    NoGradGuard no_grad;
    Tensor logits = (*net)(data::u8_to_unit_float(test.images));
    double acc = mean(eq(argmax(logits, 1), test.labels).to(DType::f32)).item<float>();
    std::printf("epoch %d  train loss %.4f  test accuracy %.4f\n", epoch + 1, total / loader.size(), acc);
  }
  return 0;
} catch (const nerve::Error& e) {
  std::fprintf(stderr, "mnist_module: %s\n", e.what());
  return 1;
}
