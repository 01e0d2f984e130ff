// ResNet-18 (torchvision's, with the small-input stem: 3x3 stride-1 conv1, no max-pool) trained from scratch on
// Fashion-MNIST (Debian package dataset-fashion-mnist), or on CIFAR-10 when --data DIR holds its binary batches
// (data_batch_1.bin ...; any other DIR is read as MNIST-format IDX files). The usual CIFAR recipe: random crop with
// 4-pixel zero padding and horizontal flip, per-channel normalization, SGD (momentum 0.9, weight decay 5e-4), a
// cosine learning-rate schedule over all steps, cross-entropy; test accuracy after every epoch.
//   resnet --epochs 30                      # Fashion-MNIST
//   resnet --data cifar-10-batches-bin --epochs 30 --save resnet18.safetensors
// --steps N stops after N batches (a smoke run), --eval-limit N tests on the first N test images.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include <nerve/nerve.h>
#include <nerve/nn/models.h>

#include "common/cli.h"

using namespace nerve;
namespace F = nerve::nn::functional;

struct Args {
  std::string data, save;
  int epochs = 30;
  int64_t batch_size = 128;
  int64_t steps = 0;       // 0: all
  int64_t eval_limit = 0;  // 0: the whole test set
  double lr = 0.1;
  int threads = 0;
  uint64_t seed = 42;
  bool json = false;
};

static Args parse(int argc, char** argv) {
  Args a;
  examples::Cli cli("resnet", "ResNet-18 (small-input stem) with augmentation, SGD and a cosine schedule on "
                              "Fashion-MNIST, or on CIFAR-10 with --data DIR.");
  cli.add("--data", a.data, "CIFAR-10 binary directory (data_batch_1.bin, ...) or MNIST-format IDX files "
                            "(default: Debian's dataset-fashion-mnist)");
  cli.integer("--epochs", a.epochs, "passes over the training set", 1, 10000);
  cli.integer("--batch-size", a.batch_size, "samples per step", int64_t{1}, int64_t{1} << 16);
  cli.integer("--steps", a.steps, "stop after N training batches (0: all epochs)", int64_t{0}, int64_t{1} << 40);
  cli.integer("--eval-limit", a.eval_limit, "test on the first N test images (0: all)", int64_t{0}, int64_t{1} << 40);
  cli.add("--lr", a.lr, "peak learning rate (cosine-annealed to 0)")->range(0.0, 100.0);
  cli.threads(a.threads);
  cli.integer("--seed", a.seed, "seed of initialization, shuffling and augmentation", uint64_t{0},
              std::numeric_limits<uint64_t>::max());
  cli.add("--save", a.save, "write the trained weights (a safetensors state dict, torchvision's names) here");
  cli.flag("--json", a.json, "one line of JSON results instead of the progress bar");
  cli.parse(argc, argv);
  return a;
}

static double peak_rss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

struct Split {
  Tensor images;  // (N, C, H, W) u8
  Tensor labels;  // (N) i64
};

int main(int argc, char** argv) try {
  Args args = parse(argc, argv);
  if (args.threads > 0) set_num_threads(args.threads);
  manual_seed(args.seed);

  // the data: CIFAR-10 when --data holds its batches, else MNIST-format files (Fashion-MNIST by default)
  const bool cifar = !args.data.empty() && std::filesystem::exists(args.data + "/data_batch_1.bin");
  Split train, test;
  std::vector<double> mean, stdev;
  if (cifar) {
    auto tr = data::datasets::cifar10(args.data, true), te = data::datasets::cifar10(args.data, false);
    train = {tr.images, tr.labels};
    test = {te.images, te.labels};
    mean = {0.4914, 0.4822, 0.4465};
    stdev = {0.2470, 0.2435, 0.2616};
  } else {
    auto tr = data::datasets::fashion_mnist(args.data, true), te = data::datasets::fashion_mnist(args.data, false);
    train = {tr.images.unsqueeze(1), tr.labels};  // (N, 1, 28, 28)
    test = {te.images.unsqueeze(1), te.labels};
    mean = {0.2860};
    stdev = {0.3530};
  }
  const int64_t channels = train.images.shape()[1];
  Tensor mean_t = from_vector<float>(std::vector<float>(mean.begin(), mean.end()), {1, channels, 1, 1});
  Tensor std_t = from_vector<float>(std::vector<float>(stdev.begin(), stdev.end()), {1, channels, 1, 1});
  auto normalize = [&](const Tensor& x) { return (x - mean_t) / std_t; };  // the test images, a batch at a time

  auto model = models::resnet18({.num_classes = 10, .in_channels = channels, .small_input = true});
  optim::SGD opt(model->parameters(), {.lr = args.lr, .momentum = 0.9, .weight_decay = 5e-4});
  // augmentation as torchvision's CIFAR recipe, per image in the loader's worker thread, from per-sample streams of
  // --seed: RandomCrop(size, padding=4), RandomHorizontalFlip(), ToTensor(), Normalize(mean, std)
  namespace T = data::transforms;
  const Shape size{train.images.shape()[2], train.images.shape()[3]};
  data::ImageTransformDataset augmented(
      std::make_shared<data::TensorDataset>(train.images, train.labels),
      T::Compose({T::RandomCrop(size, 4), T::RandomHorizontalFlip(), T::ToTensor(), T::Normalize(mean, stdev)}),
      args.seed);
  data::DataLoader loader(std::move(augmented), {.batch_size = args.batch_size, .shuffle = true});
  const int64_t per_epoch = loader.size();
  int64_t total_steps = per_epoch * args.epochs;
  if (args.steps > 0 && args.steps < total_steps) total_steps = args.steps;
  optim::CosineAnnealingLR sched(opt, total_steps);  // stepped once per batch
  const int64_t n_test = args.eval_limit > 0 ? std::min(args.eval_limit, test.images.shape()[0])
                                             : test.images.shape()[0];
  if (!args.json)
    std::printf("ResNet-18 (small-input stem), %lld parameters, %s: %lld training and %lld test images\n",
                static_cast<long long>(model->num_parameters()), cifar ? "CIFAR-10" : "Fashion-MNIST",
                static_cast<long long>(train.images.shape()[0]), static_cast<long long>(n_test));

  int64_t step = 0, trained_images = 0;
  double train_s = 0, eval_s = 0, test_accuracy = 0;
  const int epochs = static_cast<int>((total_steps + per_epoch - 1) / per_epoch);
  for (int epoch = 0; epoch < epochs; ++epoch) {
    if (!args.json) std::printf("Epoch %d/%d\n", epoch + 1, epochs);
    const int64_t steps_now = std::min(per_epoch, total_steps - step);
    keras::ProgressBar bar(steps_now, args.json ? 0 : 1);
    model->train();
    double loss_sum = 0;
    int64_t seen = 0, correct = 0, i = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (auto& batch : loader) {
      if (i == steps_now) break;
      const Tensor& x = batch.data;
      Tensor logits = (*model)(x);
      Tensor loss = F::cross_entropy(logits, batch.target);
      opt.zero_grad();
      loss.backward();
      opt.step();
      sched.step();
      const int64_t n = batch.target.shape()[0];
      loss_sum += loss.item<float>() * static_cast<double>(n);
      correct += (argmax(logits, 1) == batch.target).sum().item<int64_t>();
      seen += n;
      ++i;
      bar.update(i, {{"loss", loss_sum / seen}, {"accuracy", static_cast<double>(correct) / seen}});
    }
    train_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    trained_images += seen;
    step += i;

    // test accuracy: running statistics, no gradients
    model->eval();
    NoGradGuard no_grad;
    auto e0 = std::chrono::steady_clock::now();
    int64_t test_correct = 0;
    for (int64_t s = 0; s < n_test; s += 256) {
      const int64_t n = std::min<int64_t>(256, n_test - s);
      Tensor x = normalize(data::u8_to_unit_float(narrow(test.images, 0, s, n)));
      test_correct += (argmax((*model)(x), 1) == narrow(test.labels, 0, s, n)).sum().item<int64_t>();
    }
    eval_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - e0).count();
    test_accuracy = static_cast<double>(test_correct) / static_cast<double>(n_test);
    bar.finish({{"loss", loss_sum / std::max<int64_t>(seen, 1)},
                {"accuracy", static_cast<double>(correct) / std::max<int64_t>(seen, 1)},
                {"test_accuracy", test_accuracy}});
  }

  const double eval_images = static_cast<double>(n_test) * epochs;
  if (args.json) {
    std::printf("{\"test_accuracy\": %s, \"images_per_second\": %s, \"eval_images_per_second\": %s, "
                "\"steps\": %lld, \"train_seconds\": %s, \"peak_rss_mib\": %s}\n",
                examples::json_number(test_accuracy).c_str(),
                examples::json_number(static_cast<double>(trained_images) / train_s, 2).c_str(),
                examples::json_number(eval_images / eval_s, 2).c_str(), static_cast<long long>(step),
                examples::json_number(train_s, 3).c_str(), examples::json_number(peak_rss_mib(), 1).c_str());
  } else {
    std::printf("Test accuracy: %.4f (training %.1f images/s, inference %.1f images/s)\n", test_accuracy,
                static_cast<double>(trained_images) / train_s, eval_images / eval_s);
  }
  if (!args.save.empty()) {
    model->save(args.save);
    if (!args.json) std::printf("Saved the weights to %s\n", args.save.c_str());
  }
  return 0;
} catch (const nerve::Error& e) {
  std::fprintf(stderr, "resnet: %s\n", e.what());
  return 1;
}
