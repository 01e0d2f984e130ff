// nerve side of bench/resnet.sh: ResNet-18 with the small-input stem (3x3 stride-1 conv1, no max-pool) on
// synthetic 32x32x3 batches of 64: training images/s (forward, cross-entropy, backward, SGD momentum 0.9 with
// weight decay 5e-4) and inference images/s (eval mode, no gradients). Prints one JSON line.
//   bench_resnet [train_steps=10] [infer_batches=10] [batch=64]      (threads: NERVE_NUM_THREADS)
// The peer is bench/resnet_torch.py (torchvision's resnet18 with the same stem).
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include <nerve/nerve.h>
#include <nerve/nn/models.h>

using namespace nerve;

int main(int argc, char** argv) {
  const int train_steps = argc > 1 ? std::atoi(argv[1]) : 10;
  const int infer_batches = argc > 2 ? std::atoi(argv[2]) : 10;
  const int64_t batch = argc > 3 ? std::atoll(argv[3]) : 64;
  if (train_steps < 1 || infer_batches < 1 || batch < 1) {
    std::fprintf(stderr, "usage: bench_resnet [train_steps >= 1] [infer_batches >= 1] [batch >= 1]\n");
    return 2;
  }
  manual_seed(0);
  auto model = models::resnet18({.num_classes = 10, .small_input = true});
  optim::SGD opt(model->parameters(), {.lr = 0.01, .momentum = 0.9, .weight_decay = 5e-4});
  Tensor x = randn({batch, 3, 32, 32});
  Tensor y = randint(0, 10, {batch});
  auto step = [&] {
    Tensor loss = nn::functional::cross_entropy((*model)(x), y);
    opt.zero_grad();
    loss.backward();
    opt.step();
    return loss.item<float>();
  };
  using clock = std::chrono::steady_clock;
  model->train();
  step();  // warm-up: allocations, oneDNN primitive caches
  auto t0 = clock::now();
  float last = 0;
  for (int i = 0; i < train_steps; ++i) last = step();
  const double train_s = std::chrono::duration<double>(clock::now() - t0).count();

  model->eval();
  NoGradGuard no_grad;
  (*model)(x);  // warm-up
  t0 = clock::now();
  for (int i = 0; i < infer_batches; ++i) (*model)(x);
  const double infer_s = std::chrono::duration<double>(clock::now() - t0).count();
  std::printf("{\"train_images_per_second\": %.2f, \"infer_images_per_second\": %.2f, \"batch\": %lld, "
              "\"threads\": %d, \"last_loss\": %.4f}\n",
              static_cast<double>(batch) * train_steps / train_s, static_cast<double>(batch) * infer_batches / infer_s,
              static_cast<long long>(batch), get_num_threads(), last);
  return 0;
}
