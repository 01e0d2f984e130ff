// nerve side of bench/resnet.sh: ResNet-18 with the small-input stem (3x3 stride-1 conv1, no max-pool) on
// synthetic 32x32x3 batches of 64: training images/s (forward, cross-entropy, backward, SGD momentum 0.9 with
// weight decay 5e-4) and inference images/s (eval mode, no gradients). Prints one JSON line.
//   bench_resnet [train_steps=10] [infer_batches=10] [batch=64] [profile]      (threads: NERVE_NUM_THREADS)
// With "profile", the training steps' time per op (the split over convolutions, batch norm, ReLU, the residual adds
// and the optimizer, forward and backward) is printed to stderr (bench/resnet.sh with PROFILE=1 shows it beside
// PyTorch's).
// The peer is bench/resnet_torch.py (torchvision's resnet18 with the same stem).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

#include <nerve/nerve.h>
#include <nerve/nn/models.h>

using namespace nerve;

int main(int argc, char** argv) {
  const int train_steps = argc > 1 ? std::atoi(argv[1]) : 10;
  const int infer_batches = argc > 2 ? std::atoi(argv[2]) : 10;
  const int64_t batch = argc > 3 ? std::atoll(argv[3]) : 64;
  const bool profile = argc > 4 && std::strcmp(argv[4], "profile") == 0;
  if (train_steps < 1 || infer_batches < 1 || batch < 1 || (argc > 4 && !profile)) {
    std::fprintf(stderr, "usage: bench_resnet [train_steps >= 1] [infer_batches >= 1] [batch >= 1] [profile]\n");
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
  std::optional<profiler::Profile> prof;
  if (profile) prof.emplace();
  auto t0 = clock::now();
  float last = 0;
  for (int i = 0; i < train_steps; ++i) last = step();
  const double train_s = std::chrono::duration<double>(clock::now() - t0).count();
  if (prof) {
    prof->stop();
    std::fprintf(stderr, "nerve, %d training steps of batch %lld:\n%s", train_steps, static_cast<long long>(batch),
                 prof->table(16).c_str());
  }

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
